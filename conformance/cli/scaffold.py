"""``conformance new-op NAME``: scaffold an OpSpec and a refengine ArrayFunction with TODOs.

The spec is appended to the registry family module ``conformance/spec/ops/FAMILY.py`` (a new
family gets a new module there, which the registry discovers); the ArrayFunction and its
``refengine.NAME`` function are appended to the refengine ops module of that family and
exported from ``refengine/ops/__init__.py``.  Nothing is ever overwritten: an op that already
exists (in the registry, in the family module, or in refengine) is refused.  See docs/new-op.md.
"""
from __future__ import annotations

import argparse
import importlib
import re
from pathlib import Path
from typing import Any

from conformance.errors import ConfigError
from conformance.spec.ops import REGISTRY
from conformance.cli.scaffold_params import Param, torch_params

#: registry family -> refengine module (relative to the project root) for the ArrayFunction
REFENGINE_MODULE = {"elementwise": "refengine/ops/unary.py", "reduce": "refengine/ops/reduce.py",
                    "linalg": "refengine/ops/linalg.py", "shape": "refengine/ops/shape.py",
                    "index": "refengine/ops/index.py", "nn": "refengine/nn/functional.py"}
_EXPORT_ANCHOR = "_MODULES = {"


class ScaffoldError(ConfigError):
    """new-op cannot scaffold as asked (one line: what and why)."""


#: where torch keeps functions, in the order new-op looks: (torch module, namespace in templates,
#: the refengine module the function goes to so that the same template calls it there)
TORCH_HOMES = (("torch", "M", None), ("torch.nn.functional", "M.nn.functional", "refengine/nn/functional.py"),
               ("torch.special", "M.special", "refengine/special.py"),
               ("torch.linalg", "M.linalg", "refengine/linalg.py"))


def torch_home(name: str, torch_equivalent: str | None = None) -> tuple[str, str]:
    """(template namespace, torch_equivalent) for op ``name``: where torch has it.

    ``torch_equivalent`` given (``--torch-equivalent``) wins: ``""`` for an op torch lacks (the
    template then calls the engine's own ``M.NAME``), or a dotted ``torch.NS.NAME``.  Otherwise
    torch is searched (torch, nn.functional, special, linalg, then Tensor methods), and a name
    torch lacks is refused: a spec naming a function torch does not have would test nothing."""
    if torch_equivalent is not None:
        if torch_equivalent == "":
            return "M", ""
        mod, _, attr = torch_equivalent.rpartition(".")
        home = next((h for h in TORCH_HOMES if h[0] == mod), None)
        if home is None or not callable(_lookup(mod, attr)):
            raise ScaffoldError(f"--torch-equivalent {torch_equivalent!r}: torch has no such function (expected "
                                f"torch.NAME, torch.nn.functional.NAME, torch.special.NAME or torch.linalg.NAME)")
        return home[1], torch_equivalent
    try:
        import torch
    except ImportError:
        raise ScaffoldError(f"cannot look {name!r} up in torch (torch is not installed): install torch==2.13.0, "
                            "or pass --torch-equivalent torch.NS.NAME (or '' if torch has no such op)") from None
    for mod, ns, _ in TORCH_HOMES:
        fn = _lookup(mod, name)
        if callable(fn) and not isinstance(fn, type):
            return ns, f"{mod}.{name}"
    if callable(getattr(torch.Tensor, name, None)):
        return "$x0", f"torch.Tensor.{name}"
    raise ScaffoldError(f"torch has no {name!r} (looked in torch, torch.nn.functional, torch.special, torch.linalg "
                        f"and Tensor methods): check the spelling, or pass --torch-equivalent '' for an op torch "
                        f"does not have (its torch-oracle cells are then not-applicable)")


def _lookup(module: str, attr: str) -> object:
    try:
        return getattr(importlib.import_module(module), attr, None)
    except ImportError:
        return None


def _camel(name: str) -> str:
    return "".join(p.capitalize() for p in name.split("_"))


#: the names a spec draft uses, and where they come from
SPEC_IMPORTS = {"Any": "from typing import Any", "np": "import numpy as np",
                "st": "from hypothesis import strategies as st", "S": "from conformance.spec import shapes as S",
                **{n: f"from conformance.spec.opspec import {n}" for n in ("Domain", "OpSpec", "Sample")}}


def _missing_imports(text: str) -> str:
    """Imports of the names a spec draft uses that ``text`` (the module it is appended to) lacks."""
    lines = [line for name, line in SPEC_IMPORTS.items()
             if not re.search(rf"^(from \S+ )?import [^#\n]*\b{name}\b", text, re.M)]
    return "".join(f"{line}  # noqa: E402 (new-op)\n" for line in lines)


def _shapes_draft(arity: int) -> tuple[str, str, str]:
    """(the sampler's shape lines, the Sample's shapes, the input rank for dim samplers)."""
    if arity == 1:
        return "    shp = S.shape(draw)\n", "(shp,)", "len(shp)"
    if arity == 2:
        return ("    a, b = S.broadcast_pair(draw)  # shapes that broadcast: (3, 1) with (4,), () with (2, 3)...\n",
                "(a, b)", "len(np.broadcast_shapes(a, b))")
    return ("    shp = S.shape(draw)  # TODO: the shapes the inputs accept (all equal here)\n",
            "(" + ", ".join(["shp"] * arity) + ",)", "len(shp)")


def _reference_body(name: str, params: list[Param], arity: int) -> str:
    kinds = {p.kind for p in params}
    args = ", ".join(f"x{i}" for i in range(arity))
    if "dims" in kinds or "keepdim" in kinds:
        return ("    axis = S.axes(dim, x0.ndim) if x0.ndim else None  # numpy axes: None is all, negatives wrapped\n"
                f'    raise NotImplementedError("TODO: numpy reference of {name}, e.g. '
                f'np.sum(x0, axis=axis, keepdims=keepdim)")\n')
    pre = ("    # dim may be negative (numpy takes it as is); a 0-d x0 has dim 0 or -1 and no numpy axis\n"
           if "dim" in kinds else "")
    bc = "    # numpy broadcasts x0 with x1 as torch does\n" if arity == 2 else ""
    return pre + bc + f'    raise NotImplementedError("TODO: numpy reference of {name}({args})")\n'


def spec_block(name: str, family: str, arity: int, ns: str = "M", torch_equivalent: str | None = None,
               params: list[Param] | None = None, plumbing: list[str] | None = None, existing: str = "") -> str:
    """The OpSpec draft; ``ns`` is where the template calls the op (``M``, ``M.nn.functional``...,
    or ``$x0`` for a Tensor method); ``params`` are torch's (scaffold_params); ``existing``: the
    text of the module the draft is appended to (the draft imports what it lacks)."""
    params = params or []
    drafted = [p for p in params if p.drafted]
    arr_args = ", ".join(f"x{i}: np.ndarray" for i in range(arity))
    kw = "".join(f", {p.keyword()}" for p in drafted)
    ref_sig = f"{arr_args}, *{kw}" if drafted else arr_args
    tpl = ", ".join([f"$x{i}" for i in range(1 if ns == "$x0" else 0, arity)]
                    + [f"{p.name}=${p.name}" for p in drafted])
    call = f"$x0.{name}({tpl})" if ns == "$x0" else f"{ns}.{name}({tpl})"
    teq = f"torch.{name}" if torch_equivalent is None else torch_equivalent
    teq_note = ("  # torch has no such op: torch oracles skip it" if teq == ""
                else "  # found in torch by new-op")
    shape_lines, shapes, rank = _shapes_draft(arity)
    plumbing = [p for p in plumbing or [] if p != "out"]
    left = f"  # left to torch's defaults: {', '.join(plumbing)}" if plumbing else ""
    if params:
        entries = "".join(f"        {p.sampler(rank)}\n" for p in params)
        ret = f"    return Sample({shapes}, {{{left}\n{entries}    }})\n"
    else:
        ret = f"    return Sample({shapes}){left}\n"
    kw_note = ("\n    Its params arrive as keyword arguments, as the sampler drew them." if drafted else "")
    return f'''
{_missing_imports(existing)}
# -- {name} (scaffolded by `conformance new-op {name}`: fill in the TODOs, see docs/new-op.md) --
def _{name}_sample(draw: Any) -> Sample:
    """TODO: the input shapes {name} accepts, and its params (their names are the template's $names)."""
{shape_lines}{ret}

def _{name}_reference({ref_sig}) -> np.ndarray:
    """TODO: {name}'s forward in float64 numpy: the oracle of forward values and of finite differences.{kw_note}"""
{_reference_body(name, drafted, arity)}

SPECS.append(OpSpec(
    name="{name}",
    family="{family}",
    arity={arity},
    template="{call}",
    sample=_{name}_sample,
    reference=_{name}_reference,
    domains=(),  # TODO: Domain(lo, hi, avoid=(poles,), margin=...) per input where needed
    kink=None,  # TODO: (inputs, params) -> distance to the nearest non-differentiable point (docs/new-op.md)
    torch_equivalent="{teq}",{teq_note}
    # tol={{("numpy", "float32"): (atol, rtol)}},  # only if this op needs an exception to spec/tolerances.py
    notes="TODO",
))
'''


def family_header(family: str) -> str:
    return f'''"""Family {family!r} (scaffolded by `conformance new-op`): TODO describe these ops."""
from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st

from conformance.spec import shapes as S
from conformance.spec.opspec import Domain, OpSpec, Sample

SPECS: list[OpSpec] = []
'''


def _forward_draft(name: str, arity: int, params: list[Param]) -> tuple[str, str, str, str]:
    """(forward's body before the TODO, the TODO's hint, backward's lines before the TODO return,
    the import the draft needs besides ArrayFunction and method)."""
    kinds = {p.kind for p in params}
    rest = "".join(f"        ctx.{p.name} = {p.name}\n" for p in params if p.kind not in ("dim", "dims", "keepdim"))
    if "dims" in kinds or "keepdim" in kinds:
        keep = "keepdim" if "keepdim" in kinds else "False"
        dim = "dim" if "dims" in kinds or "dim" in kinds else "None"
        body = (f"        ctx.shape, ctx.dims, ctx.keepdim = a.shape, normalize_dims({dim}, a.ndim), {keep}\n"
                "        axis = ctx.dims if a.ndim else None  # sorted axes >= 0 (torch's error for a bad dim)\n")
        bwd = ("        # expand_back(g, ctx.shape, ctx.dims, ctx.keepdim) is g broadcast back to a's shape\n"
               "        # TODO: return expand_back(g, ctx.shape, ctx.dims, ctx.keepdim) * (d out / d a)\n")
        return (body + rest, ", e.g. np.sum(a, axis=axis, keepdims=keepdim)", bwd,
                "from refengine.ops.reduce import expand_back, normalize_dims")
    body = ("        (ctx.dim,) = normalize_dims(dim, a.ndim) or (0,)  # one non-negative dim (0 for a 0-d input)\n"
            if "dim" in kinds else "") + rest
    imports = "from refengine.ops.reduce import normalize_dims" if "dim" in kinds else ""
    if arity == 2:
        body += ("        dt = result_dtype(a, b, floating=True)  # torch's type promotion, as make_binary's ops\n"
                 "        x, y = np.asarray(a, dt), np.asarray(b, dt)  # numpy broadcasts x with y\n")
        bwd = ("        # TODO: grad_a, grad_b = g * (d out / d a), g * (d out / d b), of the broadcast shape;\n"
               "        # return fit_grad(grad_a, a), fit_grad(grad_b, b)  # sum_to_shape to each input's shape, dtype\n")
        imports = "\n".join(filter(None, [imports, "from refengine.ops.pointwise import fit_grad, result_dtype"]))
        return body, ": an array of dtype dt", bwd, imports
    if arity == 1:
        return body, "", "        # TODO: return grad_a = g * (d out / d a)\n", imports
    ret = "(" + ", ".join(f"sum_to_shape(grad_{v}, shape_of({v}))" for v in ("a", "b", "x2")) + ")"
    imports = "\n".join(filter(None, [imports, "from refengine.ops.common import shape_of, sum_to_shape"]))
    return body, "", f"        # TODO: return {ret}\n", imports


def refengine_block(name: str, arity: int, as_method: bool = True, params: list[Param] | None = None,
                    torch_equivalent: str = "") -> str:
    cls = _camel(name)
    params = [p for p in (params or []) if p.drafted]
    ins = ", ".join("ab"[i] if i < 2 else f"x{i}" for i in range(arity))
    fwd_args = "".join(f", {p.argument()}" for p in params)
    fn_args = ", ".join(["input"] + (["other"] if arity >= 2 else []) + [f"x{i}" for i in range(2, arity)])
    apply_args = fn_args + "".join(f", {p.name}={p.name}" for p in params)
    body, hint, bwd, imports = _forward_draft(name, arity, params)
    if as_method:
        imports = (imports.replace("ops.common import ", "ops.common import method, ") if "ops.common" in imports
                   else "from refengine.ops.common import method\n" + imports)
    imports = "".join(f"{line}  # noqa: E402\n" for line in imports.splitlines() if line)
    return f'''

# -- {name} (scaffolded by `conformance new-op {name}`: fill in the TODOs, see docs/new-op.md) --
import numpy as np  # noqa: E402
from refengine.function import ArrayFunction  # noqa: E402
{imports}

class {cls}(ArrayFunction):
    node_name = "{cls}Backward0"

    @staticmethod
    def forward(ctx, {ins}{fwd_args}):
        """TODO: the output as a numpy array; save what backward needs."""
{body}        ctx.save_for_backward({ins})
        raise NotImplementedError("TODO: forward of {name}{hint}")

    @staticmethod
    def backward(ctx, g):
        """TODO: d loss / d input from g = d loss / d output, written with ops that also take
        Variables (refengine.ops.common.dual) so that create_graph=True differentiates it."""
        {ins}{"," if arity == 1 else ""} = ctx.saved_tensors
{bwd}        raise NotImplementedError("TODO: backward of {name}")


{"@method()" if as_method else ""}
def {name}({fn_args}{fwd_args}):
    """TODO: one line{f" ({torch_equivalent})" if torch_equivalent else ""}."""
    return {cls}.apply({apply_args})
'''


def _exists(name: str, root: Path, family_file: Path, ref_file: Path) -> str | None:
    if name in REGISTRY and (root / "conformance" / "spec" / "ops").resolve() == Path(__file__).parents[1].joinpath(
            "spec", "ops").resolve():
        return "the registry"
    for f in root.joinpath("conformance", "spec", "ops").glob("*.py"):
        if re.search(rf'OpSpec\(\s*(name=)?"{re.escape(name)}"', f.read_text()):
            return str(f)
    for f in [ref_file, root / "refengine" / "ops" / "__init__.py"]:
        if f.exists() and re.search(rf"^(def|class) {re.escape(name)}\b|\bimport .*\b{re.escape(name)}\b",
                                    f.read_text(), re.M):
            return str(f)
    return None


def new_op(name: str, family: str | None = None, arity: int = 1, root: Path = Path("."),
           torch_equivalent: str | None = None) -> list[Path]:
    """Write the scaffold; returns the files written or changed.  Refuses to overwrite anything.

    torch's signature drafts the params (:mod:`conformance.cli.scaffold_params`); ``family``
    None is ``reduce`` for an op with ``keepdim``, else ``elementwise``.

    The template and the refengine function follow torch's namespace for ``name``
    (:func:`torch_home`): ``softplus`` is ``M.nn.functional.softplus`` in the spec and goes to
    ``refengine/nn/functional.py``, so the same template calls torch and refengine."""
    if not name.isidentifier() or name.startswith("_") or not name.islower():
        raise ScaffoldError(f"op name {name!r}: expected a lower-case Python identifier such as softplus")
    if family is not None and (not family.isidentifier() or family in ("spec", "shapes")):
        raise ScaffoldError(f"--family {family!r}: expected a registry family name such as elementwise")
    if arity not in (1, 2, 3):
        raise ScaffoldError(f"--arity {arity}: expected 1, 2 or 3")
    reg_dir = root / "conformance" / "spec" / "ops"
    ops_init = root / "refengine" / "ops" / "__init__.py"
    if not reg_dir.is_dir() or not ops_init.is_file():
        raise ScaffoldError(f"{root}: not the project root (expected conformance/spec/ops/ and refengine/ops/)")
    ns, teq = torch_home(name, torch_equivalent)
    params, plumbing = torch_params(teq, name, arity)
    if family is None:
        family = "reduce" if any(p.kind == "keepdim" for p in params) else "elementwise"
    if family == "nn" and ns == "M" and teq == "":
        ns = "M.nn.functional"  # an nn op torch lacks still lives in the engine's nn.functional
    family_file = reg_dir / f"{family}.py"
    ref_rel = REFENGINE_MODULE.get(family, f"refengine/ops/{family}.py")
    if family == "elementwise" and arity > 1:
        ref_rel = "refengine/ops/arith.py"
    home_module = next((h[2] for h in TORCH_HOMES if h[1] == ns and h[2]), None)
    if home_module is not None:
        ref_rel = home_module  # the template's namespace decides where refengine must have it
    ref_file = root / ref_rel
    where = _exists(name, root, family_file, ref_file)
    if where:
        raise ScaffoldError(f"op {name!r} already exists ({where}); new-op never overwrites an op")
    init_text = ops_init.read_text()
    if _EXPORT_ANCHOR not in init_text:
        raise ScaffoldError(f"{ops_init}: cannot find {_EXPORT_ANCHOR!r} to add the export before")
    written = []
    new_family = not family_file.exists()
    existing = family_header(family) if new_family else family_file.read_text()
    family_file.write_text(existing + spec_block(name, family, arity, ns, teq, params, plumbing, existing))
    written.append(family_file)
    ref_new = not ref_file.exists()
    ref_file.write_text(('"""refengine ops of family %r (scaffolded by conformance new-op)."""\n'
                         "from __future__ import annotations\n" % family if ref_new else ref_file.read_text())
                        + refengine_block(name, arity, as_method=home_module is None, params=params,
                                        torch_equivalent=teq))
    written.append(ref_file)
    module = ref_rel[:-3].replace("/", ".")
    if home_module is not None:  # refengine.nn.functional.NAME is M.nn.functional.NAME already
        if ref_new:  # a namespace module refengine does not have yet (special): import it with the others
            init = root / "refengine" / "__init__.py"
            anchor = "from refengine import linalg  # noqa: E402\n"
            text = init.read_text()
            if anchor in text:
                init.write_text(text.replace(anchor, anchor + f"from refengine import {module.rsplit('.', 1)[1]}  "
                                             "# noqa: E402 (new-op)\n", 1))
                written.append(init)
        return written
    ops_init.write_text(init_text.replace(_EXPORT_ANCHOR, f"from {module} import {name}  # noqa: E402 (new-op)\n"
                                          + _EXPORT_ANCHOR, 1))
    if ref_new:
        ops_init.write_text(ops_init.read_text().replace(_EXPORT_ANCHOR, _EXPORT_ANCHOR + f'"{family}", ', 1))
    written.append(ops_init)
    return written


def add_parser(sub: Any) -> None:
    n = sub.add_parser("new-op", help="scaffold an OpSpec and a refengine ArrayFunction for a new op")
    n.add_argument("name", help="op name (a Python identifier, as in torch)")
    n.add_argument("--family", default=None, help="registry family module (new name: a new module; default: "
                   "reduce for an op with keepdim, else elementwise)")
    n.add_argument("--arity", type=int, default=1, choices=[1, 2, 3], help="number of tensor inputs")
    n.add_argument("--root", default=".", help="project root to write into (default: current directory)")
    n.add_argument("--torch-equivalent", metavar="torch.NS.NAME", default=None,
                   help="torch's function for the op when new-op cannot find it by name ('' if torch has none)")
    n.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
    n.set_defaults(func=cmd_new_op)


def cmd_new_op(args: argparse.Namespace) -> int:
    written = new_op(args.name, family=args.family, arity=args.arity, root=Path(args.root),
                     torch_equivalent=args.torch_equivalent)
    for p in written:
        print(f"wrote {p}")
    print(f"next: fill in the TODOs (docs/new-op.md), then the fast gate: python -m pytest -q "
          f'"tests/test_refengine_gate.py::test_refengine_gradients_gate[{args.name}]"'
          f"\nand: conformance run --engine refengine --ops {args.name} --profile quick (and --engine torch)")
    return 0
