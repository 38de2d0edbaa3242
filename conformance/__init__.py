"""conformance: a property-based harness checking autograd engines against numerical
differentiation and PyTorch.  Importing it imports no engine (torch is loaded lazily).

    import conformance
    results = conformance.run("torch", profile="quick", ops=["sin"], report="out/")
    results.conformant

The rooms, in the direction data flows (each may import only those before it):
``spec`` (ops, programs) -> ``engines`` (adapters) -> ``checks`` (oracles, properties)
-> ``runner`` (cells, the run function, corpus, results) -> ``report``; ``cli`` on top.
"""
from conformance.engines.adapter import Adapter
from conformance.engines.numpy_style import NumpyStyleAdapter
from conformance.errors import ConfigError
from conformance.runner.results import ANY_OP, Result, RunInfo, RunResults, Status
from conformance.runner.session import run

__all__ = ["ANY_OP", "Adapter", "ConfigError", "NumpyStyleAdapter", "Result", "RunInfo", "RunResults", "Status", "run"]
__version__ = "0.1.0"
