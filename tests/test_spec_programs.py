"""Programs: numpy evaluation agrees with engines, and printed scripts reproduce the values."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, seed, settings

from conformance.engines import resolve
from conformance.spec.programs import Node, Program, parse_script_output, programs

ROOT = Path(__file__).resolve().parents[1]
FAST = settings(max_examples=8, deadline=None, database=None, suppress_health_check=list(HealthCheck))


def _run_script(src: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", src], capture_output=True, text=True, cwd=ROOT, timeout=120,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    return parse_script_output(proc.stdout)


def _reuse_program() -> Program:
    """x used twice by mul (same operand), broadcast against y, non-scalar output with a cotangent."""
    x = Node(value=np.array([[0.5, -1.25, 2.0]]), requires_grad=True)
    y = Node(value=np.array([[1.0], [3.0]]), requires_grad=True)
    nodes = [x, y, Node("mul", (0, 0)), Node("add", (2, 1)), Node("index", (3,), {"index": (np.array([1, 1, 0]),)})]
    return Program(nodes, 4, "float64", np.arange(9.0).reshape(3, 3), "mul")


@pytest.mark.parametrize("engine", ["torch", "torchlike:torch", "conformance.engines.torch:TorchAdapter"])
def test_script_reproduces_engine_values(engine: str) -> None:
    p = _reuse_program()
    A = resolve(engine)
    ts, grads = p.backward(A)
    res = _run_script(p.to_script(engine))
    np.testing.assert_array_equal(np.array(res["output"]), A.to_numpy(ts[p.output]))
    for i in p.leaves:
        np.testing.assert_array_equal(np.array(res["grads"][f"v{i}"]), grads[i])
    # and the hand-derived gradient: d/dx sum(cot * (x*x + y)[idx]) with repeated rows accumulating
    cot_rows = np.arange(9.0).reshape(3, 3)
    gy = np.array([[cot_rows[2].sum()], [cot_rows[0].sum() + cot_rows[1].sum()]])
    np.testing.assert_allclose(grads[1], gy)


def test_random_programs_scripts_reproduce() -> None:
    """Scripts of random programs (float32 included) reproduce torch's values bit for bit."""
    A = resolve("torch")
    seen = []

    @seed(3)
    @FAST
    @given(programs("index", "float32"))
    def collect(p: Program) -> None:
        seen.append(p)

    collect()
    for p in seen[:3]:
        ts, grads = p.backward(A)
        res = _run_script(p.to_script("torch"))
        np.testing.assert_array_equal(np.array(res["output"], dtype=np.float32), A.to_numpy(ts[p.output]))
        for i in p.leaves:
            got = res["grads"][f"v{i}"]
            assert (got is None) == (grads[i] is None)
            if got is not None:
                np.testing.assert_array_equal(np.array(got, dtype=np.float32), grads[i])


@pytest.mark.parametrize("op", ["add", "mul", "matmul", "sum", "index", "cat"])
def test_generator_properties(op: str) -> None:
    """Every program contains its focus op, has a grad leaf, and evaluates like torch."""
    A = resolve("torch")
    stats = {"reuse": 0, "nonscalar": 0, "frozen": 0}

    @seed(1)
    @settings(max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(programs(op, "float64"))
    def check(p: Program) -> None:
        assert op in p.ops_used() and p.grad_leaves
        ts = p.run(A)
        np.testing.assert_allclose(A.to_numpy(ts[p.output]), p.evaluate()[p.output], rtol=1e-12, atol=1e-12)
        consumers = [j for n in p.nodes for j in n.inputs]
        stats["reuse"] += len(consumers) != len(set(consumers))
        stats["nonscalar"] += p.cotangent is not None
        stats["frozen"] += any(not p.nodes[i].requires_grad for i in p.leaves)

    check()
    assert all(v > 0 for v in stats.values()), stats  # the generator reaches every structure


@pytest.mark.parametrize("op", ["conv2d", "gather", "sin"])
def test_pickle_and_copy_give_the_same_program_with_arrays_of_its_own(op: str) -> None:
    """Program.__reduce__ (raw bytes) and Program.copy: equal programs; writing into one changes nothing else."""
    import pickle

    from conformance.spec.program_json import encode_program

    seen = []

    @settings(max_examples=15, database=None, suppress_health_check=list(HealthCheck))
    @seed(3)
    @given(programs(op, "float32", scalar_output=False))
    def check(p: Program) -> None:
        for q in (pickle.loads(pickle.dumps(p)), p.copy()):
            assert encode_program(q) == encode_program(p)
            leaf = q.nodes[q.leaves[0]].value
            leaf += 1.0  # an engine writing into its input
            assert encode_program(q) != encode_program(p)
            assert q.cotangent is not p.cotangent
        seen.append(p)
    check()
    assert seen
