"""A broken user op module: OPS holds something that is not an OpSpec (exit 2 expected)."""
OPS = ["squareplus"]
