"""OpSpec: everything the harness knows about one op, independent of any engine.

An OpSpec says how to draw valid inputs (shapes, values inside a domain with a
safety margin, parameters), how far a sample is from a non-differentiable point
(so such samples are *discarded*, never failed), how to compute the forward value
in numpy (float64), and how to call the op on a torch-like namespace.  The call is a
small expression template (``"M.sum($x0, dim=$dim)"``) so the very same text is used
both to run the op on an engine and to print a standalone reproducer script.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Callable, Mapping, Sequence

import numpy as np
from hypothesis import strategies as st

from conformance.spec.dtypes import NP_DTYPES
from conformance.spec.tolerances import TOLERANCES, Tol, tolerance


@dataclass(frozen=True)
class Domain:
    """Where an input's values are drawn: [lo, hi], kept ``margin`` away from ``avoid``.

    The margin is what keeps central differences (step ~1e-5 * scale) and float32
    rounding from crossing a pole or a kink of the op.  Programs draw values through
    ``arrays`` (a hypothesis strategy: failing examples shrink to simple numbers);
    ``sample`` is the plain uniform numpy draw, for callers outside hypothesis.
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

    def allows(self, v: float) -> bool:
        """One value: inside [lo, hi] and at least ``margin`` from every ``avoid`` point (what ``arrays`` draws)."""
        return self.lo <= v <= self.hi and all(abs(v - p) >= self.margin for p in self.avoid)

    def elements(self, dtype: str = "float64") -> st.SearchStrategy[float]:
        """A hypothesis strategy for one value of this domain, exactly representable in ``dtype``.

        One value of ``arrays`` (see there for the mix of simple numbers, uniform floats and
        values just outside a margin, and why it is drawn from bytes).
        """
        return self.arrays((), dtype).map(float)

    def arrays(self, shape: tuple[int, ...], dtype: str = "float64", salt: int = 0) -> st.SearchStrategy[np.ndarray]:
        """A hypothesis strategy for a float64 array of ``shape`` with values of this domain,
        each exactly representable in ``dtype`` (float32, float16, bfloat16: rounded inside the domain).

        Each element is a mix, every branch inside [lo, hi] and ``margin`` from ``avoid``:
        ~15% simple numbers (small integers, halves, quarters, eighths, powers of two,
        simplest first: 0, 1, -1, 2, ...), ~5% values just outside an ``avoid`` point's
        margin (margin x 1.01..1.5, where a pole or kink is nearest; none without
        ``avoid``), the rest spread uniformly over the allowed intervals (24 random bits).

        The array is one hypothesis choice, ``ELEMENT_BYTES`` bytes an element, decoded with
        numpy: drawing element by element (``hypothesis.extra.numpy.arrays``) made program
        generation 2.3x slower, and hypothesis's span-copying mutations then tied values
        (max/min kinks) in up to 70% of examples.  Shrinking a byte string goes to zero
        bytes element by element, and zero bytes decode to the simplest numbers: a failing
        example shrinks to values like 1, -1, 2, 0.5.  Element ``j`` of zero bytes is the
        ``(j + SALT_STRIDE * salt)``-th simple number, so the all-zero arrays hypothesis generates often
        hold no ties (distinct ``salt`` per operand: no ties across operands either).
        """
        shape = tuple(int(k) for k in shape)
        key = (self, dtype, shape, salt)
        strategy = _ARRAYS.get(key)  # built once: a new strategy per draw is validated anew by hypothesis
        if strategy is None:
            n = int(np.prod(shape, dtype=np.int64))
            strategy = _ARRAYS[key] = st.binary(min_size=ELEMENT_BYTES * n, max_size=ELEMENT_BYTES * n).map(
                lambda b: self.decode(b, shape, dtype, salt))
        return strategy

    def decode(self, raw: bytes, shape: tuple[int, ...], dtype: str = "float64", salt: int = 0) -> np.ndarray:
        """The array ``arrays`` makes of ``raw`` (``ELEMENT_BYTES`` an element): for inputs too large to
        draw through hypothesis (its buffer is 8 KiB), decode bytes from a seeded numpy generator."""
        dec = _DECODERS.get((self, dtype))
        if dec is None:
            dec = _DECODERS[(self, dtype)] = _Decoder(self, dtype)
        return dec.decode(raw, salt).reshape(shape)


#: bytes per drawn element: a branch selector, then 24 bits of value
ELEMENT_BYTES = 4
#: the branch selector (first byte of an element): below SIMPLE_BELOW a simple number, below NEAR_BELOW a value
#: just outside an avoided point's margin, else uniform
SIMPLE_BELOW, NEAR_BELOW = 38, 51
#: zero bytes: element j of an array drawn with ``salt`` s is simple number j + SALT_STRIDE * s
SALT_STRIDE = 7
#: candidates for the simple numbers, simplest first (smallest denominator, then magnitude, + before -), and 0
#: last: zero bytes decode to these in order, and 0 is where relu, abs and many kinks and poles sit
_SIMPLE_CANDIDATES: tuple[float, ...] = tuple(sorted(
    {float(k) for k in range(-16, 17)} | {k / 2 for k in range(-16, 17)} | {k / 4 for k in range(-16, 17)}
    | {k / 8 for k in range(-16, 17)} | {s * 2.0 ** e for e in range(-10, 21) for s in (1.0, -1.0)}
    | {s * 10.0 ** e for e in range(1, 7) for s in (1.0, -1.0)},
    key=lambda v: (v == 0, Fraction(v).denominator, abs(v), v < 0)))


def _round(v: float, np_type: type) -> float:
    return float(np_type(v))


def _inward(lo: float, hi: float, np_type: type) -> tuple[float, float]:
    """[lo, hi] shrunk to its nearest floats of ``np_type``, so rounding a value inside stays inside."""
    if np_type is np.float64:
        return lo, hi
    a, b = np_type(lo), np_type(hi)
    if float(a) < lo:
        a = np.nextafter(a, np_type(np.inf))
    if float(b) > hi:
        b = np.nextafter(b, np_type(-np.inf))
    return float(a), float(b)


class _Decoder:
    """Bytes -> values of one Domain at one dtype (see ``Domain.arrays``); tables built once."""

    def __init__(self, d: Domain, dtype: str) -> None:
        self.np = np_type = NP_DTYPES[dtype]

        def ok(v: float) -> bool:
            return d.allows(v) and _round(v, np_type) == v

        # the simple numbers inside the domain, and its integer ends (990, 1000 for large logits)
        extra = (float(math.ceil(d.lo)), float(math.floor(d.hi)), float(round((d.lo + d.hi) / 2)))
        self.simple = np.array(list(dict.fromkeys(v for v in (*_SIMPLE_CANDIDATES, *extra) if ok(v))))
        # the allowed intervals: [lo, hi] less (p - margin, p + margin) around each avoided point
        cuts = sorted((p - d.margin, p + d.margin) for p in d.avoid if d.margin > 0)
        intervals, start = [], d.lo
        for a, b in cuts:
            if a > start:
                intervals.append((start, min(a, d.hi)))
            start = max(start, b)
        if start <= d.hi:
            intervals.append((start, d.hi))
        iv = [_inward(a, b, np_type) for a, b in intervals]
        iv = [(a, b) for a, b in iv if a <= b]
        if not iv:
            raise ValueError(f"{d}: no value of {dtype} lies in this domain")
        self.starts = np.array([a for a, _ in iv])
        self.ends = np.array([b for _, b in iv])
        self.cum = np.concatenate([[0.0], np.cumsum(self.ends - self.starts)])
        self.inner = self.cum[1:-1]  # the boundaries between intervals
        self._step_cache: dict[tuple[int, int], np.ndarray] = {}
        # just outside each margin, on the sides that stay inside [lo, hi]: (point, side, largest factor)
        near = []
        for p in d.avoid if d.margin > 0 else ():
            for side in (1.0, -1.0):
                room = (d.hi - p if side > 0 else p - d.lo) / d.margin
                if room > 1.02:
                    near.append((p, side, min(1.5, room - 0.01)))
        self.near = np.array(near).reshape(-1, 3)
        self.domain = d

    def decode(self, raw: bytes, salt: int = 0) -> np.ndarray:
        # one big-endian word an element: selector byte, then 24 bits (as few numpy calls as possible:
        # the arrays are small, so each call's overhead, not the arithmetic, is the cost)
        w = np.frombuffer(raw, dtype=">u4").astype(np.int64)
        sel = w >> 24
        u = (w & 0xFFFFFF) / float(1 << 24)  # [0, 1)
        # uniform over the allowed intervals, laid end to end
        t = u * self.cum[-1]
        if len(self.starts) == 1:
            x = np.minimum(self.starts[0] + t, self.ends[0])
        else:
            k = np.searchsorted(self.inner, t, side="right")  # the interval holding t
            x = np.minimum(self.starts[k] + (t - self.cum[k]), self.ends[k])
        if len(self.simple):
            pick = ((w >> 16) & 0xFF) + self._steps(len(w), salt)
            x = np.where(sel < SIMPLE_BELOW, self.simple[pick % len(self.simple)], x)
        if len(self.near):
            is_near = (sel >= SIMPLE_BELOW) & (sel < NEAR_BELOW)
            if is_near.any():
                b1 = (w >> 16) & 0xFF
                p, side, fmax = self.near[b1 % len(self.near)].T
                f = 1.01 + (fmax - 1.01) * ((w & 0xFFFF) / 65536.0)
                y = p + side * self.domain.margin * f
                y = y.astype(self.np).astype(np.float64)
                fine = (y >= self.starts[0]) & (y <= self.ends[-1])
                for q in self.domain.avoid:
                    fine &= np.abs(y - q) >= self.domain.margin
                x = np.where(is_near & fine, y, x)
        return x.astype(self.np).astype(np.float64)

    def _steps(self, n: int, salt: int) -> np.ndarray:
        """``j + SALT_STRIDE * salt`` for element j: which simple number zero bytes decode to."""
        key = (n, salt)
        steps = self._step_cache.get(key)
        if steps is None:
            steps = self._step_cache[key] = np.arange(n, dtype=np.int64) + SALT_STRIDE * salt
        return steps


_DECODERS: dict[tuple[Domain, str], _Decoder] = {}
_ARRAYS: dict[tuple[Domain, str, tuple[int, ...], int], st.SearchStrategy[np.ndarray]] = {}


ANY = Domain()


@dataclass(frozen=True)
class Sample:
    """One drawn instance of an op: input shapes, domains used for values, extra params."""

    shapes: tuple[tuple[int, ...], ...]
    params: dict[str, Any] = field(default_factory=dict)
    #: per input, the Domain its values are drawn from (None: the OpSpec's domains)
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
    # (inputs, params) -> the magnitude, per unit tangent, of the terms the op's derivative formulas add up where
    # they cancel to a far smaller Jacobian (normalize: 1/|x|; the norm layers: their condition kappa); None: 1.
    # Rounding error follows the terms, not the result: jvp_vjp_transpose scales its bound by it
    formula_scale: Callable[..., float] | None = None
    # the same for the op's forward formula, where it differs from the derivatives' (std: its forward's x - mean
    # is counted by the conditioning already, while its gradient divides that difference by (n - 1) std); None:
    # formula_scale. Read by the half-precision forward bound (checks/rounding.py)
    forward_scale: Callable[..., float] | None = None
    requires: tuple[str, ...] = ()  # namespace attributes the op needs, e.g. "Tensor.expand"
    tol: Overrides = field(default_factory=dict)  # this op's exceptions to spec.tolerances.TOLERANCES
    torch_equivalent: str = ""  # "torch.sum"; "": torch has no such op and torch oracles skip it
    smooth2: bool = True  # twice differentiable away from kinks (used by higher-order checks)
    contiguous_only: bool = False  # inputs must be contiguous (view): no transposed inputs
    extreme: Extreme | None = None  # mpmath derivative and extreme arguments (elementwise unary ops)
    # where the op is well defined but a naive formula overflows, underflows or cancels (logits of 1e3,
    # sigmoid at -500, pow with large exponents): regions, each one Domain per input (missing: the op's
    # own domains), drawn by the `stability` property (conformance/checks/properties/stability.py)
    stable: tuple[tuple[Domain, ...], ...] = ()
    # the result's dtype whatever the inputs' ("bool": the comparisons), or None: the inputs' floating dtype.  A
    # non-floating result carries no gradient, so no program can differentiate through it: only the properties
    # declared ``nondifferentiable=True`` (checks/properties/comparisons.py) get such an op's cells
    result_dtype: str | None = None
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

    @property
    def differentiable(self) -> bool:
        """Whether the op's result is floating and so carries gradients (False: a comparison's bool)."""
        return self.result_dtype is None

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
