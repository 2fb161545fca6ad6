"""A tiny script that fails the way many first autograd programs do.

Run it through gradexplain:  python examples/seed.py 2>&1 | gradexplain explain
"""
import torch

x = torch.tensor([5.0, 5.0], requires_grad=True)
y = torch.tensor([8.0, 8.0], requires_grad=True)
A = x * y
A.backward()
print(x.grad, y.grad)
