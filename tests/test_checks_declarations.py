"""Declarations that describe themselves: ``@prop`` reads a property's needs, the runner acts on
them (an adapter without a declared optional method is not-applicable, with the reason), a wrong
declaration fails where it is written, and OpSpecs are keyword-only with per-op tolerances."""
from __future__ import annotations

from typing import Any, Iterator

import numpy as np
import pytest

from conformance import run
from conformance.checks import oracles as O
from conformance.checks.properties import PROPERTIES, DeclarationError, prop
from conformance.checks.properties.base import Evidence, violations
from conformance.engines import resolve
from conformance.engines.adapter import Adapter
from conformance.engines.contract import checked
from conformance.runner.plan import plan
from conformance.runner.profiles import PROFILES
from conformance.runner.results import ANY_OP, Status
from conformance.spec.ops import REGISTRY
from conformance.spec.opspec import OpSpec, Sample
from conformance.spec.programs import Node, Program
from conformance.spec.tolerances import TOLERANCES, Tol


class RequiredOnly(Adapter):
    """refengine behind only the methods every adapter must have: all optional ones are Adapter's."""

    name = "required-only"
    capabilities = frozenset({"float64", "float32", "nd", "no_grad", "retain_grad", "retain_graph"})

    def __init__(self) -> None:
        self.ref = resolve("refengine")

    def has_op(self, op: str) -> bool: return self.ref.has_op(op)
    def leaf(self, value: Any, dtype: str, rg: bool) -> Any: return self.ref.leaf(value, dtype, rg)
    def apply(self, op: str, inputs: Any, params: Any) -> Any: return self.ref.apply(op, inputs, params)
    def backward(self, out: Any, gradient: Any = None, retain_graph: Any = None, create_graph: bool = False) -> None:
        self.ref.backward(out, gradient, retain_graph, create_graph)
    def to_numpy(self, t: Any) -> Any: return self.ref.to_numpy(t)
    def grad_of(self, t: Any) -> Any: return self.ref.grad_of(t)
    def dtype_of(self, t: Any) -> str: return self.ref.dtype_of(t)
    def is_leaf(self, t: Any) -> bool: return self.ref.is_leaf(t)
    def requires_grad(self, t: Any) -> bool: return self.ref.requires_grad(t)
    def grad_fn_name(self, t: Any) -> Any: return self.ref.grad_fn_name(t)


@pytest.fixture
def scratch_properties() -> Iterator[None]:
    """Properties a test registers are gone afterwards."""
    before = dict(PROPERTIES)
    yield
    PROPERTIES.clear()
    PROPERTIES.update(before)


def test_implements_sees_overrides_through_the_contract_wrapper() -> None:
    bare, ref = RequiredOnly(), resolve("refengine")
    assert not bare.implements("grad_tensor") and not checked(bare).implements("zero_grad")
    assert ref.implements("grad_tensor") and checked(ref).implements("register_hook")
    with pytest.raises(ValueError, match="'leaf' is not an optional Adapter method"):
        bare.implements("leaf")


def test_a_declared_method_the_adapter_lacks_makes_the_cell_not_applicable() -> None:
    """leaf_rule calls grad_tensor, stateful_vs_torch calls zero_grad/detach/...: without them the
    cells are not-applicable with the reason, never errors; cells needing nothing optional run."""
    rr = run(RequiredOnly(), profile="quick", ops=["sin", "mul", "add", "sum", "tanh"], seed=0, corpus=False,
             properties=["leaf_rule", "grad_dtype_shape", "stateful_vs_torch", "grad_vs_torch", "accumulation"])
    by = {(r.property, r.op, r.dtype): r for r in rr.results}
    for key, method in [(("leaf_rule", ANY_OP, "float64"), "grad_tensor"),
                        (("grad_dtype_shape", "sin", "float32"), "grad_tensor"),
                        (("stateful_vs_torch", ANY_OP, "float64"), "detach, no_grad, retain_grad, zero_grad")]:
        r = by[key]
        assert r.status == Status.NOT_APPLICABLE, (key, r.status, r.message)
        assert r.message == f"the check calls adapter method(s) {method}, which the adapter does not implement"
    assert by[("grad_vs_torch", "sin", "float64")].status == Status.PASSED
    assert by[("accumulation", ANY_OP, "float32")].status == Status.PASSED


def test_a_property_declared_with_prop_runs_with_its_doc_and_needs(scratch_properties: None) -> None:
    @prop("scratch_zero_grad", family="semantics", per_op=False, methods={"zero_grad"}, oracles={"rule"},
          dtypes=("float64",))
    def _scratch(A: Any, p: Program) -> Evidence:
        """zero_grad() leaves .grad None.

        Only the first paragraph is the doc.
        """
        ts, _ = p.backward(A)
        A.zero_grad(ts[p.grad_leaves[0]])
        return violations([] if A.grad_of(ts[p.grad_leaves[0]]) is None else ["zero_grad kept .grad"], p)

    declared = PROPERTIES["scratch_zero_grad"]
    assert declared.doc == "zero_grad() leaves .grad None." and declared.check is _scratch
    assert declared.methods == {"zero_grad"} and declared.profiles == set(PROFILES)
    ok, = run("refengine", profile="quick", ops=["sin"], properties=["scratch_zero_grad"], seed=0, corpus=False).results
    assert ok.status == Status.PASSED, ok.message
    na, = run(RequiredOnly(), profile="quick", ops=["sin"], properties=["scratch_zero_grad"], seed=0,
              corpus=False).results
    assert na.status == Status.NOT_APPLICABLE and "zero_grad" in na.message


def _doc(A: Any, p: Any) -> Evidence:
    """A rule."""
    return violations([], p)


def _undocumented(A: Any, p: Any) -> Evidence:
    return violations([], p)


@pytest.mark.parametrize("kwargs, why", [
    (dict(capabilities={"hook"}), "unknown capability 'hook' (did you mean 'hooks'?)"),
    (dict(methods={"leaf"}), "unknown adapter method 'leaf'"),
    (dict(methods={"zerograd"}), "(did you mean 'zero_grad'?)"),
    (dict(methods="zero_grad"), "adapter methods must be a collection of names, not the string 'zero_grad'"),
    (dict(oracles={"torch"}), "unknown oracle 'torch'"),
    (dict(oracles=()), "no oracles declared"),
    (dict(helper_ops={"sinn"}), "unknown helper op 'sinn' (did you mean 'sin'?)"),
    (dict(profiles={"nightly"}), "unknown profile 'nightly'"),
    (dict(dtypes=("float8",)), "unknown dtype 'float8'"),
    (dict(cost=0), "cost 0: expected a positive number"),
])
def test_a_bad_declaration_fails_at_registration_naming_it(scratch_properties: None, kwargs: dict, why: str) -> None:
    before = set(PROPERTIES)
    decl = dict(family="semantics", oracles={"rule"}) | kwargs
    with pytest.raises(DeclarationError) as e:
        prop("scratch_bad", **decl)(_doc)
    assert str(e.value).startswith("@prop('scratch_bad') on '_doc': ") and why in str(e.value), str(e.value)
    assert set(PROPERTIES) == before


def test_no_docstring_or_a_taken_name_fails_at_registration(scratch_properties: None) -> None:
    with pytest.raises(DeclarationError, match="the check has no docstring"):
        prop("scratch_undocumented", family="semantics", oracles={"rule"})(_undocumented)
    with pytest.raises(DeclarationError, match="property 'forward' is already registered"):
        prop("forward", family="gradients", oracles={"numpy"})(_doc)


def test_profiles_come_from_declarations() -> None:
    """mpmath_extreme declares the thorough profile only, the half-precision properties ci and thorough; every
    other property runs everywhere."""
    assert PROPERTIES["mpmath_extreme"].profiles == {"thorough"}
    half = {"half_forward", "half_grad", "half_accumulation"}
    assert all(PROPERTIES[h].profiles == {"ci", "thorough"} for h in half)
    quick = {c[0].name for c in plan(PROFILES["quick"])}
    ci = {c[0].name for c in plan(PROFILES["ci"])}
    thorough = {c[0].name for c in plan(PROFILES["thorough"])}
    assert thorough - quick == {"mpmath_extreme"} | half
    assert ci - quick == half
    assert {c[1] for c in plan(PROFILES["thorough"], properties=["mpmath_extreme"])} == {
        name for name, spec in REGISTRY.items() if spec.extreme is not None}


def test_opspec_is_keyword_only_and_validates_its_tolerance_overrides() -> None:
    base = dict(name="cube", family="user", arity=1, template="M.cube($x0)", sample=lambda draw: Sample(((2,),)),
                reference=lambda x: x ** 3)
    with pytest.raises(TypeError):
        OpSpec("cube", "user", 1, "M.cube($x0)", base["sample"], base["reference"])  # type: ignore[misc]
    with pytest.raises(ValueError, match=r"tol keys \['float32'\] are not \(oracle, dtype\) pairs"):
        OpSpec(**base, tol={"float32": (1e-3, 1e-3)})
    loose = OpSpec(**base, tol={("numpy", "float32"): (5e-3, 5e-3)})
    assert loose.tolerance("numpy", "float32") == Tol(5e-3, 5e-3)
    assert loose.tolerance("numpy", "float64") == TOLERANCES[("numpy", "float64")]


def test_a_per_op_override_reaches_the_comparison(monkeypatch: pytest.MonkeyPatch) -> None:
    """tolerance_for: the focus op's own tolerance first, then the table."""
    p = Program([Node(value=np.ones(2), requires_grad=True), Node("sin", (0,))], 1, "float32", None, "sin")
    assert O.tolerance_for(p, "numpy") == TOLERANCES[("numpy", "float32")]
    monkeypatch.setitem(REGISTRY, "sin", OpSpec(**{**vars(REGISTRY["sin"]), "tol": {("numpy", "float32"): (1, 1)}}))
    assert O.tolerance_for(p, "numpy") == Tol(1, 1)
