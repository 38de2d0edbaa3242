"""``refengine.autograd``: the functional interface, as ``torch.autograd``."""
from refengine.engine import backward, grad
from refengine.function import Function
from refengine.grad_mode import enable_grad, no_grad, set_grad_enabled

Variable = None  # set below; the legacy ``torch.autograd.Variable`` spelling


def _bind():
    global Variable
    from refengine.variable import Variable as V
    Variable = V


_bind()
from refengine.autograd import forward_ad  # noqa: E402  (torch.autograd.forward_ad)

__all__ = ["backward", "grad", "Function", "Variable", "no_grad", "enable_grad", "set_grad_enabled", "forward_ad"]
