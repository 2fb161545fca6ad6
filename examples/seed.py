"""A tiny script that fails the way many first autograd programs do.

Run it through gradexplain:  python examples/seed.py 2>&1 | gradexplain explain
"""
import torch

x = torch.tensor([1.0, 2.0], requires_grad=True)
y = torch.tensor([3.0, 4.0], requires_grad=True)
A = x * y
A.backward()
print(x.grad, y.grad)
