"""Exact JSON round-trip of Programs (and of the other examples properties draw).

A corpus entry must rebuild *the very* program that failed: float64 leaf values bit
for bit, integer/boolean index arrays with their dtype, and params whose Python types
matter to the ops (a tuple of dims is not a list, ``slice(None, 2)``, ``None``,
``Ellipsis``, ``True`` is not ``1``).  Every value is tagged when plain JSON would lose
its type, so ``decode(encode(x))`` equals ``x`` in value *and* type (``same`` checks both).

Floats are written with ``repr`` (shortest round-tripping form); NaN/inf as strings.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from conformance.spec.programs import Node, Program

FORMAT = 1  # bump on an incompatible change of the encoding


class ProgramJSONError(ValueError):
    """A JSON document is not an encoded program/example (message names what is wrong)."""


def _float(x: float) -> Any:
    return x if math.isfinite(x) else {"float": repr(x)}


def encode_value(v: Any) -> Any:
    """A JSON-able form of a param / example value that ``decode_value`` turns back exactly."""
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, int) and not isinstance(v, bool):
        return v
    if isinstance(v, float):
        return _float(v)
    if isinstance(v, np.ndarray):
        flat = v.ravel().tolist()
        if v.dtype.kind == "f":
            flat = [_float(float(x)) for x in flat]
        return {"ndarray": str(v.dtype), "shape": list(v.shape), "data": flat}
    if isinstance(v, np.generic):
        return {"npscalar": str(v.dtype), "value": encode_value(v.item())}
    if isinstance(v, tuple):
        return {"tuple": [encode_value(x) for x in v]}
    if isinstance(v, list):
        return [encode_value(x) for x in v]
    if isinstance(v, slice):
        return {"slice": [encode_value(v.start), encode_value(v.stop), encode_value(v.step)]}
    if v is Ellipsis:
        return {"ellipsis": True}
    if isinstance(v, dict):
        if not all(isinstance(k, str) for k in v):
            raise ProgramJSONError(f"cannot encode a dict with non-string keys: {list(v)[:3]!r}")
        return {"dict": {k: encode_value(x) for k, x in v.items()}}
    raise ProgramJSONError(f"cannot encode a value of type {type(v).__name__} (expected numbers, strings, None, "
                           "tuples, lists, slices, Ellipsis, dicts or numpy arrays)")


def decode_value(d: Any) -> Any:
    """Inverse of ``encode_value``."""
    if d is None or isinstance(d, (bool, int, str)):
        return d
    if isinstance(d, float):
        return d
    if isinstance(d, list):
        return [decode_value(x) for x in d]
    if not isinstance(d, dict) or len(d) == 0:
        raise ProgramJSONError(f"unexpected JSON value {d!r:.80}")
    if "float" in d:
        return float(d["float"])
    if "ndarray" in d:
        data = [decode_value(x) for x in d["data"]]
        return np.array(data, dtype=np.dtype(d["ndarray"])).reshape(tuple(d["shape"]))
    if "npscalar" in d:
        return np.dtype(d["npscalar"]).type(decode_value(d["value"]))
    if "tuple" in d:
        return tuple(decode_value(x) for x in d["tuple"])
    if "slice" in d:
        return slice(*(decode_value(x) for x in d["slice"]))
    if "ellipsis" in d:
        return Ellipsis
    if "dict" in d:
        return {k: decode_value(x) for k, x in d["dict"].items()}
    raise ProgramJSONError(f"unknown tagged value with keys {sorted(d)}")


def encode_program(p: Program) -> dict[str, Any]:
    nodes = []
    for n in p.nodes:
        if n.op is None:
            nodes.append({"leaf": encode_value(n.value), "requires_grad": n.requires_grad})
        else:
            nodes.append({"op": n.op, "inputs": list(n.inputs), "params": encode_value(dict(n.params))["dict"]})
    return {"nodes": nodes, "output": p.output, "dtype": p.dtype, "focus": p.focus,
            "cotangent": None if p.cotangent is None else encode_value(p.cotangent)}


def decode_program(d: dict[str, Any]) -> Program:
    try:
        nodes = []
        for n in d["nodes"]:
            if "leaf" in n:
                nodes.append(Node(value=decode_value(n["leaf"]), requires_grad=bool(n["requires_grad"])))
            else:
                nodes.append(Node(n["op"], tuple(n["inputs"]), decode_value({"dict": n["params"]})))
        cot = d["cotangent"]
        return Program(nodes, int(d["output"]), d["dtype"], None if cot is None else decode_value(cot), d["focus"])
    except (KeyError, TypeError) as e:
        raise ProgramJSONError(f"not an encoded program: missing or malformed {e}") from None


def encode_example(x: Any) -> dict[str, Any]:
    """A property example: a Program, or (stateful rules) a list of plain-value actions."""
    if isinstance(x, Program):
        return {"kind": "program", "format": FORMAT, "program": encode_program(x)}
    if isinstance(x, list):
        return {"kind": "actions", "format": FORMAT, "class": f"{type(x).__module__}:{type(x).__qualname__}",
                "actions": encode_value(list(x))}
    raise ProgramJSONError(f"cannot encode an example of type {type(x).__name__} (expected a Program or a list)")


def decode_example(d: dict[str, Any]) -> Any:
    if not isinstance(d, dict) or d.get("kind") not in ("program", "actions"):
        raise ProgramJSONError("expected an object with kind 'program' or 'actions'")
    if d.get("format") != FORMAT:
        raise ProgramJSONError(f"example format {d.get('format')!r}; this harness reads {FORMAT}")
    if d["kind"] == "program":
        return decode_program(d["program"])
    import importlib

    modname, _, qual = d["class"].partition(":")
    try:
        cls = getattr(importlib.import_module(modname), qual)
    except (ImportError, AttributeError) as e:
        raise ProgramJSONError(f"unknown action-list class {d['class']!r}: {e}") from None
    return cls(decode_value(d["actions"]))


def same(a: Any, b: Any) -> bool:
    """Equal in value and type, recursively (arrays: dtype, shape and bits; NaN equals NaN)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
    if isinstance(a, Program):
        return (a.output == b.output and a.dtype == b.dtype and a.focus == b.focus
                and same(a.cotangent, b.cotangent) and len(a.nodes) == len(b.nodes)
                and all(same(x, y) for x, y in zip(a.nodes, b.nodes)))
    if isinstance(a, Node):
        return (a.op == b.op and a.inputs == b.inputs and a.requires_grad == b.requires_grad
                and same(a.value, b.value) and same(a.params, b.params))
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, slice):
        return same(a.start, b.start) and same(a.stop, b.stop) and same(a.step, b.step)
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return bool(a == b)


def corpus_program(example: Any) -> dict[str, Any] | None:
    """The encoded example for ``Result.program`` (None when there is none or it cannot be encoded)."""
    if example is None:
        return None
    try:
        return encode_example(example)
    except ProgramJSONError:
        return None
