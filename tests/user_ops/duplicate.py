"""A broken user op module: it redefines the built-in op ``sin`` (exit 2 expected)."""
from conformance.spec.ops import REGISTRY

OPS = [REGISTRY["sin"]]
