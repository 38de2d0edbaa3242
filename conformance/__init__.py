"""conformance: a property-based harness checking autograd engines against numerical
differentiation and PyTorch.  Importing it imports no engine (torch is loaded lazily)."""
from .results import ANY_OP, Result, RunInfo, RunResults, Status

__all__ = ["ANY_OP", "Result", "RunInfo", "RunResults", "Status"]
__version__ = "0.1.0"
