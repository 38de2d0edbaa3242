"""What ``conformance new-op`` learns from torch's signature of the op: its parameters.

torch's builtins mostly have no ``inspect.signature``; their docstrings start with one
(``cumsum(input, dim, *, dtype=None) -> Tensor``) and list the overloads after
``.. function::`` (``nansum(input, *, dtype=None)`` and ``nansum(input, dim, keepdim=False, ...)``).
The overloads are merged: a parameter some overload lacks is optional (``dim=None``: all dims).
The ``Args:`` section gives the types (``dim (int or tuple of ints, optional)``).

Each parameter after the tensor inputs becomes a :class:`Param` of one kind, which decides its
draft: ``dim`` (one valid dim of the input's rank, negative ones too), ``dims`` (None, an int or
a tuple), ``keepdim`` and other ``bool`` (both values), ``float``/``int`` (torch's default first,
so failing examples shrink to it, and a few values around it).  A parameter of any other type is
``unknown``: a TODO comment in the sampler, never a guess.  Plumbing (``out``, ``dtype``,
``inplace``...) is left to torch's defaults.
"""
from __future__ import annotations

import ast
import inspect
import re
from dataclasses import dataclass
from typing import Any

#: parameters new-op never drafts: they do not change the maths of the op
PLUMBING = {"out", "dtype", "layout", "device", "requires_grad", "pin_memory", "memory_format", "inplace",
            "generator", "names"}
REQUIRED: Any = inspect.Parameter.empty


@dataclass(frozen=True)
class Param:
    name: str
    kind: str  # dim | dims | keepdim | bool | float | int | unknown
    default: Any = REQUIRED
    type_text: str = ""  # from the annotation or the docstring's Args: section
    allow_tuple: bool = False  # dims: a tuple of dims is allowed

    @property
    def drafted(self) -> bool:
        return self.kind != "unknown"

    def sampler(self, rank: str) -> str:
        """The sampler's line for this param (a dict entry), or a TODO comment."""
        n, d = self.name, self.default
        if self.kind == "dim":
            return f'"{n}": S.dim_of(draw, {rank}),  # a valid dim for the rank, negative ones too'
        if self.kind == "dims":
            flags = "".join([", allow_tuple=False"] * (not self.allow_tuple) + [", allow_none=False"] * (d is REQUIRED))
            return f'"{n}": S.reduce_dims(draw, {rank}{flags}),  # None (all), an int or a tuple; negative dims too'
        if self.kind in ("keepdim", "bool"):
            return f'"{n}": draw(st.booleans()),'
        if self.kind in ("float", "int"):
            values, note = _around(d, self.kind)
            return f'"{n}": draw(st.sampled_from({values!r})),  # {note}'
        what = ", ".join(x for x in (self.type_text, "" if d is REQUIRED else f"default {d!r}") if x)
        return f"# TODO: {n} ({what or 'type unknown'}): not drafted; to vary it, draw it, add {n}=${n} to the template"

    def keyword(self) -> str:
        """``name: type`` for the reference's keyword-only arguments."""
        return f"{self.name}: " + {"dim": "int", "dims": "Any", "keepdim": "bool", "bool": "bool",
                                    "float": "float", "int": "int"}[self.kind]

    def argument(self) -> str:
        """``name=default`` (or ``name``) for refengine's function and forward."""
        return self.name if self.default is REQUIRED else f"{self.name}={self.default!r}"


def _around(d: Any, kind: str) -> tuple[list[Any], str]:
    """A few values of a scalar param, torch's default first; a made-up range says TODO."""
    if d is REQUIRED or d is None:
        return ([1.0, 0.5, 2.0] if kind == "float" else [1, 2, 3]), "TODO: no default in torch; check the range"
    if kind == "float":
        d = float(d)
        values = [d, d / 2, d * 2] if d else [0.0, 0.5, -0.5]
    else:
        values = [d, d + 1, d * 2] if d > 0 else ([0, 1, 2] if d == 0 else [d, d - 1, d * 2])
    return list(dict.fromkeys(values)), "torch's default first: failing examples shrink to it"


def signature_params(fn: Any, name: str) -> list[tuple[str, Any, str]] | None:
    """(name, default or REQUIRED, type text) of ``fn``'s parameters, self excluded; None if unknown."""
    types = _doc_types(fn.__doc__ or "")
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return _doc_signature(fn.__doc__ or "", name, types)
    out = []
    for p in sig.parameters.values():
        if p.name == "self" or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        ann = p.annotation
        text = types.get(p.name) or ("" if ann is p.empty else getattr(ann, "__name__", str(ann)))
        out.append((p.name, p.default, text))
    return out


def _doc_types(doc: str) -> dict[str, str]:
    """``Args:`` lines of a docstring: ``dim (int or tuple of ints, optional): ...`` -> name -> type."""
    return {m.group(1): m.group(2).strip() for m in re.finditer(r"^\s*(\w+) \(([^)]*)\):", doc, re.M)}


def _doc_signature(doc: str, name: str, types: dict[str, str]) -> list[tuple[str, Any, str]] | None:
    """Merge the docstring's signature lines for ``name`` (the first line and ``.. function::`` overloads)."""
    lines = re.findall(rf"^\s*(?:\.\. function:: )?{re.escape(name)}\((.*)\)(?:\s*->.*)?\s*$", doc, re.M)
    if not lines:
        return None
    overloads = [dict(_parse_arg(a) for a in _split(line) if a.strip() not in ("*", "/", "")) for line in lines]
    merged: dict[str, Any] = {}
    for ov in overloads:
        for k, v in ov.items():
            merged.setdefault(k, v)
    for k in merged:  # a param some overload lacks is optional: default None
        if merged[k] is REQUIRED and any(k not in ov for ov in overloads):
            merged[k] = None
    return [(k, v, types.get(k, "")) for k, v in merged.items()]


def _split(args: str) -> list[str]:
    """Split an argument list on top-level commas."""
    parts, depth, cur = [], 0, ""
    for ch in args:
        depth += (ch in "([{") - (ch in ")]}")
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    return parts + [cur]


def _parse_arg(arg: str) -> tuple[str, Any]:
    name, eq, default = arg.partition("=")
    name = name.split(":")[0].strip()
    if not eq:
        return name, REQUIRED
    try:
        return name, ast.literal_eval(default.strip())
    except (ValueError, SyntaxError):
        return name, default.strip()  # torch.contiguous_format and the like: an unknown param's default


def classify(name: str, default: Any, type_text: str) -> Param | None:
    """The Param for one of torch's parameters, None for plumbing new-op leaves to torch."""
    if name in PLUMBING:
        return None
    t = type_text.lower().replace(", optional", "").strip()
    if "tensor" in t:  # a tensor param (weight, target...): the scaffold cannot draw one
        return Param(name, "unknown", default, type_text)
    if name == "keepdim":
        return Param(name, "keepdim", default, type_text)
    if name == "dim" and (default is REQUIRED or default is None or type(default) is int):
        tuples = "tuple" in t or "list" in t
        if default is None or tuples:
            return Param(name, "dims", default, type_text, allow_tuple=tuples)
        return Param(name, "dim", default, type_text)
    if isinstance(default, bool) or t == "bool":
        return Param(name, "bool", default, type_text)
    if t.startswith(("float", "number", "scalar")) or (isinstance(default, float) and not t):
        return Param(name, "float", default, type_text)
    if isinstance(default, int) and not t or t == "int":
        return Param(name, "int", default, type_text)
    return Param(name, "unknown", default, type_text)


def torch_params(torch_equivalent: str, name: str, tensor_inputs: int) -> tuple[list[Param], list[str]]:
    """The params of torch's function (after its ``tensor_inputs`` tensor arguments; a Tensor
    method's self is one) and the names of the plumbing left to torch.  Empty when torch has no
    such function or its signature cannot be read."""
    if not torch_equivalent:
        return [], []
    import importlib
    mod, _, attr = torch_equivalent.rpartition(".")
    is_method = mod == "torch.Tensor"
    try:
        fn = getattr(importlib.import_module("torch").Tensor if is_method else importlib.import_module(mod), attr)
    except (ImportError, AttributeError):
        return [], []
    found = signature_params(fn, attr)
    if found is None:
        return [], []
    skip = tensor_inputs - 1 if is_method else tensor_inputs
    params, plumbing = [], []
    for pname, default, text in found[skip:]:
        p = classify(pname, default, text)
        if p is None:
            plumbing.append(pname)
        else:
            params.append(p)
    return params, plumbing
