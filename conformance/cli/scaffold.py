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


def spec_block(name: str, family: str, arity: int, ns: str = "M", torch_equivalent: str | None = None) -> str:
    """The OpSpec draft; ``ns`` is where the template calls the op (``M``, ``M.nn.functional``...,
    or ``$x0`` for a Tensor method)."""
    args = ", ".join(f"x{i}" for i in range(arity))
    arr_args = ", ".join(f"x{i}: np.ndarray" for i in range(arity))
    tpl_args = ", ".join(f"$x{i}" for i in range(arity))
    call = (f"$x0.{name}({', '.join(f'$x{i}' for i in range(1, arity))})" if ns == "$x0"
            else f"{ns}.{name}({tpl_args})")
    teq = f"torch.{name}" if torch_equivalent is None else torch_equivalent
    teq_note = ("  # torch has no such op: torch oracles skip it" if teq == ""
                else "  # found in torch by new-op")
    shapes = "(S.shape(draw),)" if arity == 1 else "(" + ", ".join(["shp"] * arity) + ",)"
    pre = "" if arity == 1 else "    shp = S.shape(draw)  # TODO: S.broadcast_pair(draw) for broadcasting ops\n"
    return f'''

# -- {name} (scaffolded by `conformance new-op {name}`: fill in the TODOs, see docs/new-op.md) --
def _{name}_sample(draw: Any) -> Sample:
    """TODO: draw the input shapes (and params, as Sample(shapes, {{"name": value}})) {name} accepts."""
{pre}    return Sample({shapes})


def _{name}_reference({arr_args}) -> np.ndarray:
    """TODO: {name}'s forward in float64 numpy: the oracle of forward values and of finite differences."""
    raise NotImplementedError("TODO: numpy reference of {name}({args})")


SPECS.append(OpSpec(
    name="{name}",
    family="{family}",
    arity={arity},
    template="{call}",
    sample=_{name}_sample,
    reference=_{name}_reference,
    domains=(),  # TODO: Domain(lo, hi, avoid=(poles,), margin=...) per input where needed
    kink=None,  # TODO: distance to the nearest non-differentiable point, if any
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

from conformance.spec import shapes as S
from conformance.spec.opspec import Domain, OpSpec, Sample  # noqa: F401  (Domain: for input domains)

SPECS: list[OpSpec] = []
'''


def refengine_block(name: str, arity: int, as_method: bool = True) -> str:
    cls = _camel(name)
    ins = ", ".join("ab"[i] if i < 2 else f"x{i}" for i in range(arity))
    grads = ", ".join(f"sum_to_shape(grad_{v}, shape_of({v}))" for v in ins.split(", "))
    ret = "grad_a" if arity == 1 else f"({grads})"
    params = ", ".join(["input"] + (["other"] if arity >= 2 else []) + [f"x{i}" for i in range(2, arity)])
    return f'''

# -- {name} (scaffolded by `conformance new-op {name}`: fill in the TODOs, see docs/new-op.md) --
import numpy as np  # noqa: E402
from refengine.function import ArrayFunction  # noqa: E402
from refengine.ops.common import method, shape_of, sum_to_shape  # noqa: E402,F401


class {cls}(ArrayFunction):
    node_name = "{cls}Backward0"

    @staticmethod
    def forward(ctx, {ins}):
        """TODO: the output as a numpy array; save what backward needs."""
        ctx.save_for_backward({ins})
        raise NotImplementedError("TODO: forward of {name}")

    @staticmethod
    def backward(ctx, g):
        """TODO: d loss / d input from g = d loss / d output, written with ops that also take
        Variables (refengine.ops.common.dual) so that create_graph=True differentiates it."""
        {ins}, = ctx.saved_tensors
        # TODO: return {ret}
        raise NotImplementedError("TODO: backward of {name}")


{"@method()" if as_method else ""}
def {name}({params}):
    """TODO: one line (torch.{name})."""
    return {cls}.apply({params})
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


def new_op(name: str, family: str = "elementwise", arity: int = 1, root: Path = Path("."),
           torch_equivalent: str | None = None) -> list[Path]:
    """Write the scaffold; returns the files written or changed.  Refuses to overwrite anything.

    The template and the refengine function follow torch's namespace for ``name``
    (:func:`torch_home`): ``softplus`` is ``M.nn.functional.softplus`` in the spec and goes to
    ``refengine/nn/functional.py``, so the same template calls torch and refengine."""
    if not name.isidentifier() or name.startswith("_") or not name.islower():
        raise ScaffoldError(f"op name {name!r}: expected a lower-case Python identifier such as softplus")
    if not family.isidentifier() or family in ("spec", "shapes"):
        raise ScaffoldError(f"--family {family!r}: expected a registry family name such as elementwise")
    if arity not in (1, 2, 3):
        raise ScaffoldError(f"--arity {arity}: expected 1, 2 or 3")
    reg_dir = root / "conformance" / "spec" / "ops"
    ops_init = root / "refengine" / "ops" / "__init__.py"
    if not reg_dir.is_dir() or not ops_init.is_file():
        raise ScaffoldError(f"{root}: not the project root (expected conformance/spec/ops/ and refengine/ops/)")
    ns, teq = torch_home(name, torch_equivalent)
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
    family_file.write_text((family_header(family) if new_family else family_file.read_text())
                           + spec_block(name, family, arity, ns, teq))
    written.append(family_file)
    ref_new = not ref_file.exists()
    ref_file.write_text(('"""refengine ops of family %r (scaffolded by conformance new-op)."""\n'
                         "from __future__ import annotations\n" % family if ref_new else ref_file.read_text())
                        + refengine_block(name, arity, as_method=home_module is None))
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
    n.add_argument("--family", default="elementwise", help="registry family module (new name: a new module)")
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
    print(f"next: fill in the TODOs, then: conformance run --engine refengine --ops {args.name} --profile quick")
    return 0
