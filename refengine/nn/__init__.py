"""``refengine.nn``: only the functional interface (``refengine.nn.functional``)."""
from refengine.nn import functional
