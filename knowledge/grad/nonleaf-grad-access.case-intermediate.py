# Inspecting the gradient of a hidden activation: it is not a leaf, so .grad stays None.
# expect-exit: 0
# expect-cause: intermediate-value
import torch
from torch import nn

torch.manual_seed(0)
encoder = nn.Linear(8, 4)
head = nn.Linear(4, 1)
x = torch.randn(16, 8)

hidden = torch.tanh(encoder(x))
loss = head(hidden).pow(2).mean()
loss.backward()
print("hidden grad:", hidden.grad)  # expect: nonleaf-grad-access
