"""Grouping cells into findings (conformance.runner.findings.collect), on hand-made results."""
from __future__ import annotations

from conformance.runner.findings import collect
from conformance.runner.results import Result, Status

RAISED = "ValueError: non-broadcastable output operand with shape () doesn't match the broadcast shape (1,)"


def _cell(op: str, prop: str, dtype: str, message: str, culprit: dict, signature: str) -> Result:
    return Result(engine="e", op=op, property=prop, dtype=dtype, status=Status.ERROR, message=message,
                  culprit=culprit, signature=signature, fault="engine")


def test_a_rule_cell_raising_an_ops_own_exception_is_blocked_by_that_op() -> None:
    """autograd's where raises in backward; the freezing rule drew where, and its where node alone did not
    raise, so diagnosis filed it under the rule: the same exception (shapes aside) is where's one bug."""
    own = _cell("where", "grad_vs_torch", "float64", RAISED, {"op": "where"}, "backward raises ValueError")
    rule = _cell("*", "freezing", "float32", RAISED.replace("(1,)", "(3,)"), {"rule": "freezing"},
                 "freezing: ValueError: non-broadcastable output operand")
    other = _cell("*", "detach", "float64", "RuntimeError: something else", {"rule": "detach"}, "detach: RuntimeError")
    findings = collect([own, rule, other])
    assert [(f.culprit, len(f.cells)) for f in findings] == [({"op": "where"}, 2), ({"rule": "detach"}, 1)]
    assert rule.status == Status.BLOCKED_BY and rule.blocked_by == "where" and rule.finding == findings[0].id
    assert other.status == Status.ERROR  # a different exception stays the rule's
    assert [f.id for f in collect([own, rule, other])] == [f.id for f in findings]  # collecting again: the same


def _interaction(op: str, signature: str) -> Result:
    return Result(engine="e", op=op, property="grad_vs_torch", dtype="float64", status=Status.FAILED,
                  message=f"leaf grads: v1: {signature}", culprit={"op": op}, signature=f"grad_vs_torch: {signature}",
                  fault="engine", interaction=True)


def test_a_structural_interaction_on_many_ops_is_one_finding_of_the_rule() -> None:
    """tinygrad fills .grad of frozen leaves in every op's programs: one behaviour, not one bug per op."""
    none = "leaf grads: v: a value where None was expected"
    cells = [_interaction(op, none) for op in ("mul", "sin", "cat")]
    (f,) = collect(cells)
    assert f.culprit == {"rule": "grad_vs_torch"} and len(f.cells) == 3
    assert all(r.finding == f.id for r in cells)
    two = [_interaction(op, none) for op in ("mul", "sin")]  # fewer ops than ENGINE_WIDE_OPS: each its own
    assert sorted(g.culprit_name for g in collect(two)) == ["mul", "sin"]
    values = [_interaction(op, "leaf grads: v: wrong values") for op in ("mul", "sin", "cat")]
    assert len(collect(values)) == 3  # wrong values in context on three ops are three bugs until shown otherwise


def test_where_a_corpus_replay_came_from_is_not_part_of_the_bug() -> None:
    from conformance.runner.findings import signature_of
    plain = "second retained backward must add the same grads: v0: got 3, expected 2 (abs err 1 > tol 1e-06, oracle rule-repeat)"
    assert signature_of(f"corpus replay stack.retain_graph_twice.float32.torch.6049.json: {plain}") == signature_of(plain)
    assert signature_of(f"{plain} [corpus replay of stack.retain_graph_twice.float64.torch.a31a.json fails too]") == \
        signature_of(plain)


def test_a_finding_shows_a_reproducer_that_checks_before_a_shorter_one_that_only_prints() -> None:
    """logit with a wrong backward: its jvp cell's reproducer can only print the program's values (the check hands
    the engine a callable), its grad_vs_numerical cell's trace script exits 1; the finding must show the latter,
    however long."""
    from conformance.runner.findings import PROGRAM_ONLY

    prints = f"# property 'jvp_vjp_transpose'\n{PROGRAM_ONLY} this failure)\nprint(1)\n"
    checks = "# property 'grad_vs_numerical'\n" + "step(...)\n" * 40 + "sys.exit(1)\n"
    cells = [Result(engine="e", op="logit", property=prop, dtype="float64", status=Status.FAILED,
                    message="leaf grads: v0: got 1, expected 2", culprit={"op": "logit"},
                    signature="gradient values wrong", fault="engine", reproducer=script)
             for prop, script in (("jvp_vjp_transpose", prints), ("grad_vs_numerical", checks))]
    (f,) = collect(cells)
    assert f.reproducer == checks
    (f,) = collect(list(reversed(cells)))
    assert f.reproducer == checks


def test_one_promotion_rule_on_many_ops_is_one_finding_of_the_rule() -> None:
    """mygrad widens float32 with a Python float to float64 in every op: the messages name the op, the rule is
    the same, so three ops or more are one finding; the same rule on two ops stays two findings."""
    def promo(op: str, kind: str) -> Result:
        msg = f"{op} of float32 with {kind} returned float64; torch returns float32: {op}(float32, 0.5)"
        return Result(engine="e", op=op, property="promotion", dtype="float64", status=Status.FAILED, message=msg,
                      culprit={"op": op}, signature=f"promotion: {op} of float32 with {kind} returned float64",
                      fault="engine", interaction=True)
    cells = [promo(op, "python float") for op in ("add", "mul", "div")] + [promo(op, "python int")
                                                                        for op in ("sub", "div")]
    findings = collect(cells)
    rules = [f for f in findings if "rule" in f.culprit]
    assert len(rules) == 1 and len(rules[0].cells) == 3 and "<op> of float32 with python float" in rules[0].signature
    assert sorted(f.culprit.get("op", "") for f in findings if "op" in f.culprit) == ["div", "sub"]
    assert [f.id for f in collect(cells)] == [f.id for f in findings]  # collecting the stamped cells again
