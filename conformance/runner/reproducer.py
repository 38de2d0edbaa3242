"""Reproducer scripts: a failing example as a standalone program, with the command that replays it."""
from __future__ import annotations

from typing import Any, Sequence

from conformance.runner.results import ANY_OP


def script(engine: Any, prop: Any, op: str, program: Any, message: str, run_seed: int,
           ops: Sequence[str] | None = None) -> str | None:
    """The reproducer of ``program`` on ``engine`` (anything with ``spec`` and ``name``), or None.

    Any-op cells draw from the run's op list, so the replay command selects the same ops.
    """
    if program is None:
        return None
    name = engine.spec or engine.name
    replay_ops = f"--ops {op}" if op != ANY_OP else (f"--ops {','.join(ops)}" if ops else "")
    head = (f"# property {prop.name!r} ({prop.doc}) failed: {message[:300]}\n"
            f"# replay: conformance run --engine {name} {replay_ops} "
            f"--properties {prop.name} --seed {run_seed}\n")
    torch_version = "\n".join("# " + line for line in program.to_script("torch").splitlines())
    return head + program.to_script(name) + "\n# The same program on torch:\n" + torch_version + "\n"
