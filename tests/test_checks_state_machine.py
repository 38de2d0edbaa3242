"""Autograd semantics driven by a hypothesis rule-based state machine, in lockstep with torch.

The machine interleaves what a user does — make leaves, apply ops (also under
``no_grad``), ``detach``, ``retain_grad``, ``backward`` with or without
``retain_graph``, a second backward through the same output, resetting ``.grad``
— on the engine under test and on torch float64, and after every step checks
that every tensor agrees: ``requires_grad``, ``is_leaf``, and ``.grad`` values.
An error must be raised by both or by neither (categories, never messages).
Hypothesis shrinks a failure to the shortest interleaving that shows it.

This complements the ``stateful_vs_torch`` property (which runs the same idea
inside ``conformance run`` as a drawn action list): here it is a genuine
``RuleBasedStateMachine``, and a deliberately broken engine shows the catch.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

pytest.importorskip("torch")

from conformance.engines import resolve  # noqa: E402

SHAPE = (2, 3)
VALUES = arrays(np.float64, SHAPE, elements=st.floats(-1.5, 1.5, allow_nan=False, width=64))


def lockstep_machine(make_engine: Any) -> type[RuleBasedStateMachine]:
    """A machine class comparing ``make_engine()`` with torch step by step."""

    class Lockstep(RuleBasedStateMachine):
        tensors = Bundle("tensors")
        outputs = Bundle("outputs")

        def __init__(self) -> None:
            super().__init__()
            self.E, self.T = make_engine(), resolve("torch")
            self.seen: list[tuple[Any, Any]] = []
            self.diverged = False  # after a failed backward, state is unspecified: stop comparing

        def _both(self, fn: Any) -> tuple[Any, Any] | None:
            """Run ``fn(adapter)`` on both; both must raise or neither (returns None if both did)."""
            results, errors = [], []
            for A in (self.E, self.T):
                try:
                    results.append(fn(A))
                    errors.append(None)
                except Exception as e:  # noqa: BLE001  (categorised below)
                    results.append(None)
                    errors.append(e)
            e_err, t_err = errors
            if (e_err is None) != (t_err is None):
                raise AssertionError(
                    f"engine {'raised ' + repr(e_err) if e_err else 'did not raise'}, "
                    f"torch {'raised ' + repr(t_err) if t_err else 'did not raise'}")
            if e_err is not None:
                assert self.E.is_autograd_error(e_err), f"engine raised a non-autograd error: {e_err!r}"
                return None
            return results[0], results[1]

        def _keep(self, pair: tuple[Any, Any] | None) -> tuple[Any, Any] | None:
            if pair is not None:
                self.seen.append(pair)
            return pair

        @initialize(target=tensors, v=VALUES)
        def first_leaf(self, v: np.ndarray) -> tuple[Any, Any]:
            return self._keep(self._both(lambda A: A.leaf(v, "float64", True)))

        @initialize(target=tensors, v=VALUES)
        def second_leaf(self, v: np.ndarray) -> tuple[Any, Any]:
            return self._keep(self._both(lambda A: A.leaf(v, "float64", True)))

        @rule(target=tensors, v=VALUES, requires_grad=st.booleans())
        def leaf(self, v: np.ndarray, requires_grad: bool) -> tuple[Any, Any]:
            return self._keep(self._both(lambda A: A.leaf(v, "float64", requires_grad)))

        @rule(target=tensors, a=tensors, b=tensors, op=st.sampled_from(["add", "mul", "sub"]),
              untracked=st.booleans())
        def binary(self, a: Any, b: Any, op: str, untracked: bool) -> Any:
            def go(A: Any) -> Any:
                i = 0 if A is self.E else 1
                if untracked:
                    with A.no_grad():
                        return A.apply(op, [a[i], b[i]], {})
                return A.apply(op, [a[i], b[i]], {})
            return self._keep(self._both(go)) if a and b else None

        @rule(target=tensors, a=tensors, op=st.sampled_from(["sin", "tanh", "exp"]))
        def unary(self, a: Any, op: str) -> Any:
            return self._keep(self._both(lambda A: A.apply(op, [a[0 if A is self.E else 1]], {}))) if a else None

        @rule(target=tensors, a=tensors)
        def detach(self, a: Any) -> Any:
            return self._keep(self._both(lambda A: A.detach(a[0 if A is self.E else 1]))) if a else None

        @rule(a=tensors)
        def retain_grad(self, a: Any) -> None:
            if a and self.T.requires_grad(a[1]):
                self._both(lambda A: A.retain_grad(a[0 if A is self.E else 1]))

        @rule(target=tensors, a=tensors)
        def retained_backward(self, a: Any) -> Any:
            """b = tanh(a); b.retain_grad(); sum(b * b).backward() — the retain_grad pattern in one step."""
            if not a or self.diverged:
                return None
            b = self._keep(self._both(lambda A: A.apply("tanh", [a[0 if A is self.E else 1]], {})))
            if b is not None and self.T.requires_grad(b[1]):
                self._both(lambda A: A.retain_grad(b[0 if A is self.E else 1]))
                out = self.total(b)
                if out is not None:
                    self.backward(out, False)
            return b

        @rule(target=outputs, a=tensors)
        def total(self, a: Any) -> Any:
            """sum(a * a): a scalar whose graph saves tensors, so a second backward must raise."""
            def go(A: Any) -> Any:
                t = a[0 if A is self.E else 1]
                return A.apply("sum", [A.apply("mul", [t, t], {})], {"dim": None, "keepdim": False})
            return self._both(go) if a else None

        @rule(out=outputs, retain=st.booleans())
        def backward(self, out: Any, retain: bool) -> None:
            if out and not self.diverged:
                def go(A: Any) -> None:
                    A.backward(out[0 if A is self.E else 1], None, retain_graph=retain)
                if self._both(go) is None and self.T.requires_grad(out[1]):
                    # both raised mid-graph (a freed graph): how far it got is unspecified
                    self.diverged = True

        @rule(a=tensors)
        def zero_grad(self, a: Any) -> None:
            if a:
                self._both(lambda A: A.zero_grad(a[0 if A is self.E else 1]))

        @invariant()
        def same_state(self) -> None:
            if self.diverged:
                return
            for k, (e, t) in enumerate(self.seen):
                assert self.E.requires_grad(e) == self.T.requires_grad(t), f"tensor {k}: requires_grad differs"
                assert self.E.is_leaf(e) == self.T.is_leaf(t), f"tensor {k}: is_leaf differs"
                ge, gt = self.E.grad_of(e), self.T.grad_of(t)
                assert (ge is None) == (gt is None), f"tensor {k}: .grad is {ge} on the engine, {gt} on torch"
                if gt is not None:
                    np.testing.assert_allclose(ge, gt, rtol=1e-10, atol=1e-12, err_msg=f"tensor {k}: .grad")

    return Lockstep


SETTINGS = settings(max_examples=60, stateful_step_count=25, deadline=None, database=None, derandomize=True,
                    suppress_health_check=list(HealthCheck), report_multiple_bugs=False)


@pytest.mark.parametrize("engine", ["refengine", "torchlike:torch"])
def test_engine_matches_torch_step_by_step(engine: str) -> None:
    run_state_machine_as_test(lockstep_machine(lambda: resolve(engine)), settings=SETTINGS)


@pytest.mark.parametrize("broken", ["BackwardAlwaysRetainsGraph", "FillsNonLeafGrad", "RetainGradIgnored",
                                    "GradOverwrittenNotAccumulated", "DetachKeepsGraph"])
def test_state_machine_catches_broken_engines(broken: str) -> None:
    from tests.broken_engines import engines

    cls = getattr(engines, broken)
    no_shrink = settings(SETTINGS, phases=[Phase.explicit, Phase.generate])  # finding it is the point here
    with pytest.raises(AssertionError):
        run_state_machine_as_test(lockstep_machine(cls), settings=no_shrink)
