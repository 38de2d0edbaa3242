"""Profiles (how many examples a cell gets) and seeds (how a run replays exactly).

A profile's hypothesis settings are registered explicitly under ``conformance-<name>`` and
loaded by name, never via ``settings.load_profile``: hypothesis silently loads its own
"ci" profile when the CI variable is set, which would change derandomization and reporting.
A cell's hypothesis seed is derived from (run seed, property, op, dtype), so ``--seed N``
replays every cell exactly, whatever else is selected.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
from hypothesis import HealthCheck, Phase, Verbosity, settings

from conformance.checks.properties.base import PROFILE_NAMES

HARNESS_VERSION = "0.1.0"
#: op-independent rules are one cell instead of one per op: they get this many times the examples
ANY_OP_FACTOR = 8


@dataclass(frozen=True, kw_only=True)
class Profile:
    name: str  # as given to --profile
    max_examples: int  # examples per cell of a cost-1 property (scaled by 1/cost, at least 2)
    default_seed: int | None  # None: a fresh random seed per run (printed and recorded)
    shrink: bool = True  # shrink a failing example to a minimal one


PROFILES: dict[str, Profile] = {
    "quick": Profile(name="quick", max_examples=6, default_seed=0),
    "ci": Profile(name="ci", max_examples=50, default_seed=0),
    "thorough": Profile(name="thorough", max_examples=300, default_seed=None),
}
# which properties run in which profile is declared by each property (@prop(..., profiles=...))
if set(PROFILES) != set(PROFILE_NAMES):
    raise AssertionError(f"profiles {sorted(PROFILES)} differ from the names properties may declare, "
                         f"conformance.checks.properties.base.PROFILE_NAMES {sorted(PROFILE_NAMES)}")

for _p in PROFILES.values():
    settings.register_profile(
        f"conformance-{_p.name}", max_examples=_p.max_examples, deadline=None, database=None,
        derandomize=False, print_blob=False, report_multiple_bugs=False, verbosity=Verbosity.quiet,
        phases=(Phase.explicit, Phase.generate, Phase.shrink) if _p.shrink else (Phase.explicit, Phase.generate),
        suppress_health_check=list(HealthCheck))


def cell_seed(run_seed: int, prop: str, op: str, dtype: str) -> int:
    """The hypothesis seed of one cell: a function of the run seed and the cell's key only."""
    return zlib.crc32(f"{run_seed}:{prop}:{op}:{dtype}".encode())


def resolve_seed(profile: Profile, seed: int | None) -> int:
    """The run seed: the one given, else the profile's, else a fresh random one."""
    if seed is not None:
        return seed
    if profile.default_seed is not None:
        return profile.default_seed
    return int(np.random.SeedSequence().entropy % (2**31))
