"""A partial torch-like module: torch's tensors, but only a few ops and no nn/autograd.grad.

Used to check that torchlike:MODULE derives capabilities and ops from what a module has.
"""
import torch

tensor = torch.tensor
float64 = torch.float64
float32 = torch.float32
no_grad = torch.no_grad
enable_grad = torch.enable_grad
set_grad_enabled = torch.set_grad_enabled
is_grad_enabled = torch.is_grad_enabled
add = torch.add
mul = torch.mul
sin = torch.sin
tanh = torch.tanh
sum = torch.sum
