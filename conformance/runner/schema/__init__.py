"""JSON Schemas shipped with the package (``results.schema.json``: the results.json format)."""
from __future__ import annotations

import json
import pathlib

RESULTS_SCHEMA_PATH = pathlib.Path(__file__).with_name("results.schema.json")


def load_results_schema() -> dict:
    """The JSON Schema (draft 2020-12) of ``RunResults.to_dict()`` as written to results.json."""
    return json.loads(RESULTS_SCHEMA_PATH.read_text(encoding="utf-8"))
