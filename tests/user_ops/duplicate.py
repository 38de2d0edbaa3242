"""A broken user op module: it redefines the built-in op ``sin`` (exit 2 expected)."""
from conformance.registry import REGISTRY

OPS = [REGISTRY["sin"]]
