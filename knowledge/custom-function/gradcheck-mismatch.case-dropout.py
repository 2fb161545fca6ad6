# Checking a small block that contains dropout, left in training mode:
# every forward call draws a new mask, so the finite differences are noise.
# expect-cause: random-function
import torch
import torch.nn as nn

block = nn.Sequential(nn.Linear(6, 6), nn.Tanh(), nn.Dropout(0.2), nn.Linear(6, 2)).double()
x = torch.randn(3, 6, dtype=torch.double, requires_grad=True)
torch.autograd.gradcheck(block, (x,))  # expect: gradcheck-mismatch
