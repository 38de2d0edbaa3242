"""OpSpec: everything the harness knows about one op, independent of any engine.

An OpSpec says how to draw valid inputs (shapes, values inside a domain with a
safety margin, parameters), how far a sample is from a non-differentiable point
(so such samples are *discarded*, never failed), how to compute the forward value
in numpy (float64), and how to call the op on a torch-like namespace.  The call is a
small expression template (``"M.sum($x0, dim=$dim)"``) so the very same text is used
both to run the op on an engine and to print a standalone reproducer script.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from conformance.spec.tolerances import TOLERANCES, Tol, tolerance


@dataclass(frozen=True)
class Domain:
    """Where an input's values are drawn: uniform in [lo, hi], kept ``margin`` away from ``avoid``.

    The margin is what keeps central differences (step ~1e-5 * scale) and float32
    rounding from crossing a pole or a kink of the op.
    """

    lo: float = -3.0
    hi: float = 3.0
    avoid: tuple[float, ...] = ()
    margin: float = 0.0

    def sample(self, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        x = rng.uniform(self.lo, self.hi, size=shape)
        for p in self.avoid:
            close = np.abs(x - p) < self.margin
            # push close values out of the forbidden band, keeping their side
            x = np.where(close, p + np.where(x >= p, 1.0, -1.0) * (self.margin + np.abs(x - p)), x)
        return np.clip(x, self.lo, self.hi) if not self.avoid else x

    def contains(self, x: np.ndarray) -> bool:
        if x.size == 0:
            return True
        ok = bool(np.all(x >= self.lo) and np.all(x <= self.hi))
        return ok and all(bool(np.all(np.abs(x - p) >= self.margin * 0.99)) for p in self.avoid)


ANY = Domain()


@dataclass(frozen=True)
class Sample:
    """One drawn instance of an op: input shapes, domains used for values, extra params."""

    shapes: tuple[tuple[int, ...], ...]
    params: dict[str, Any] = field(default_factory=dict)
    #: integer-valued seed offsets are not needed: values come from the program's rng
    domains: tuple[Domain, ...] | None = None


_VAR = re.compile(r"\$(\w+)")


Template = str | Callable[[dict[str, Any]], str]  # the call, or a function of the params giving it
Overrides = Mapping[tuple[str, str], tuple[float, float]]  # (oracle, dtype) -> (atol, rtol)


@dataclass(frozen=True, kw_only=True)
class Extreme:
    """Where an elementwise op's derivative is checked against 50-digit mpmath (``mpmath_extreme``).

    The derivative is written in closed form: numerical ``mpmath.diff`` steps would leave
    the domain at arguments like 1e-300.
    """

    derivative: Callable[[Any, Any], Any]  # (mpmath module, mpf x) -> d op / dx in mpmath arithmetic
    points: tuple[float, ...]  # extreme but representable x where naive formulas lose precision or overflow


@dataclass(frozen=True, kw_only=True)
class OpSpec:
    """One op.  ``template`` uses ``M`` for the engine namespace, ``$x0..`` for inputs, ``$name`` for params.

    Built with keywords only, so a spec reads as a list of facts about its op.  An engine
    lacking a ``requires`` attribute reports the op not-applicable; samples closer to a kink
    than the finite-difference reach are discarded, never failed.
    """

    name: str  # registry name, as in --ops, in results and in Adapter.apply
    family: str  # registry family: the spec/ops module the spec lives in
    arity: int  # number of tensor inputs ($x0 .. $x{arity-1})
    template: Template  # "M.sum($x0, dim=$dim)": runs the op on an engine and prints it in reproducers
    sample: Callable[[Any], Sample]  # (hypothesis draw) -> Sample: input shapes and params
    reference: Callable[..., np.ndarray]  # forward in float64 numpy, (*inputs, **params) -> output
    domains: tuple[Domain, ...] = ()  # per input, where its values are drawn (missing: ANY)
    kink: Callable[..., float] | None = None  # (inputs, params) -> distance to the nearest non-differentiable point
    requires: tuple[str, ...] = ()  # namespace attributes the op needs, e.g. "Tensor.expand"
    tol: Overrides = field(default_factory=dict)  # this op's exceptions to spec.tolerances.TOLERANCES
    torch_equivalent: str = ""  # "torch.sum"; "": torch has no such op and torch oracles skip it
    smooth2: bool = True  # twice differentiable away from kinks (used by higher-order checks)
    contiguous_only: bool = False  # inputs must be contiguous (view): no transposed inputs
    extreme: Extreme | None = None  # mpmath derivative and extreme arguments (elementwise unary ops)
    notes: str = ""  # what a reader of the registry should know; shown nowhere else

    def __post_init__(self) -> None:
        unknown = [k for k in self.tol if k not in TOLERANCES]
        if unknown:
            raise ValueError(f"OpSpec {self.name!r}: tol keys {unknown} are not (oracle, dtype) pairs of "
                             "conformance.spec.tolerances.TOLERANCES, e.g. ('numpy', 'float32')")

    def tolerance(self, oracle: str, dtype: str) -> Tol:
        """The tolerance for comparing this op's ``dtype`` results with ``oracle``: the op's own, else the table's."""
        own = self.tol.get((oracle, dtype))
        return Tol(*own) if own is not None else tolerance(oracle, dtype)

    def domain(self, i: int) -> Domain:
        return self.domains[i] if i < len(self.domains) else ANY

    # -- calling -------------------------------------------------------------------------
    def template_for(self, params: dict[str, Any]) -> str:
        return self.template(params) if callable(self.template) else self.template

    def _compiled(self, params: dict[str, Any]) -> Any:
        tpl = self.template_for(params)
        code = _CACHE.get(tpl)
        if code is None:
            code = compile(_VAR.sub(lambda m: "_" + m.group(1), tpl), f"<op {self.name}>", "eval")
            _CACHE[tpl] = code
        return code

    def call(self, ns: Any, inputs: Sequence[Any], params: dict[str, Any]) -> Any:
        """Run the op on namespace ``ns`` (torch, or any torch-like module)."""
        local = {f"_x{i}": t for i, t in enumerate(inputs)}
        for k, v in params.items():
            local["_" + k] = to_namespace(v, ns)
        return eval(self._compiled(params), {"M": ns}, local)

    def code(self, args: Sequence[str], params: dict[str, Any]) -> str:
        """The same call as Python source, for reproducer scripts."""
        sub = {f"x{i}": a for i, a in enumerate(args)}
        sub.update({k: literal(v) for k, v in params.items()})
        return _VAR.sub(lambda m: sub[m.group(1)], self.template_for(params))


_CACHE: dict[str, Any] = {}


def to_namespace(v: Any, ns: Any) -> Any:
    """Integer/boolean numpy arrays inside params become engine tensors (indices, masks, targets)."""
    if isinstance(v, np.ndarray):
        return ns.tensor(v)
    if isinstance(v, tuple):
        return tuple(to_namespace(x, ns) for x in v)
    if isinstance(v, list):
        return [to_namespace(x, ns) for x in v]
    return v


def literal(v: Any) -> str:
    """Python source for a param value, matching ``to_namespace``."""
    if isinstance(v, np.ndarray):
        return f"M.tensor(np.array({v.tolist()!r}, dtype=np.{v.dtype}))"
    if isinstance(v, tuple):
        inner = ", ".join(literal(x) for x in v)
        return f"({inner},)" if len(v) == 1 else f"({inner})"
    if isinstance(v, list):
        return "[" + ", ".join(literal(x) for x in v) + "]"
    if v is Ellipsis:
        return "..."
    return repr(v)
