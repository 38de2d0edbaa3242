"""pytest plugin (entry point ``pytest11 = conformance.cli.pytest_plugin``).

``pytest --pyargs conformance --engine mypkg.adapter:Adapter`` collects
``conformance/cli/test_engine.py`` and parametrizes it with one test per
op x property x dtype cell of the chosen profile; each test runs its cell through
:func:`conformance.run`.  Without ``--engine`` the plugin does nothing (it is loaded in
every pytest session of the environment, so it must stay inert and import no engine).
Under pytest-xdist (``-n 2``) the cells are spread over the workers; the collection is
identical everywhere and the run seed is the controller's.
"""
from __future__ import annotations

from typing import Any

import pytest

from conformance.engines import resolve
from conformance.errors import ConfigError
from conformance.runner.plan import plan
from conformance.runner.profiles import PROFILES, resolve_seed


def pytest_addoption(parser: Any) -> None:
    g = parser.getgroup("conformance", "autograd conformance suite")
    g.addoption("--engine", default=None, help="engine to check (torch, refengine, torchlike:MOD, pkg.mod:Class)")
    g.addoption("--conformance-profile", default="ci", choices=list(PROFILES))
    g.addoption("--conformance-seed", type=int, default=None)
    g.addoption("--conformance-ops", default=None, help="comma-separated ops")
    g.addoption("--conformance-properties", default=None, help="comma-separated properties")


def engine(config: Any) -> Any:
    """The session's adapter, built once from ``--engine`` (a pytest usage error when it cannot be)."""
    if not hasattr(config, "_conformance_adapter"):
        try:
            config._conformance_adapter = resolve(config.getoption("--engine"))
        except ConfigError as e:
            raise pytest.UsageError(f"--engine: {e}") from None
    return config._conformance_adapter


def pytest_generate_tests(metafunc: Any) -> None:
    if "conformance_cell" not in metafunc.fixturenames:
        return
    config = metafunc.config
    if not config.getoption("--engine"):
        metafunc.parametrize("conformance_cell", [None], ids=["no-engine"])
        return
    split = lambda v: v.split(",") if v else None  # noqa: E731
    engine(config)  # a bad --engine is a usage error at collection
    cells = plan(PROFILES[config.getoption("--conformance-profile")], split(config.getoption("--conformance-ops")),
                 split(config.getoption("--conformance-properties")))
    metafunc.parametrize("conformance_cell", [(p.name, op, dt) for p, op, dt in cells],
                         ids=[f"{op}-{p.name}-{dt}" for p, op, dt in cells])


def run_seed(config: Any) -> int:
    """The run seed, decided once per session: under pytest-xdist the controller decides it and hands
    it to every worker (``pytest_configure_node``), so a random ``thorough`` seed is the same everywhere."""
    if not hasattr(config, "_conformance_seed"):
        given = getattr(config, "workerinput", {}).get("conformance_seed")
        prof = PROFILES[config.getoption("--conformance-profile")]
        config._conformance_seed = given if given is not None else resolve_seed(
            prof, config.getoption("--conformance-seed"))
    return config._conformance_seed


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """pytest-xdist (controller side): every worker gets the controller's run seed."""
    if node.config.getoption("--engine"):
        node.workerinput["conformance_seed"] = run_seed(node.config)


@pytest.fixture
def conformance_engine(request: Any) -> Any:
    return engine(request.config)
