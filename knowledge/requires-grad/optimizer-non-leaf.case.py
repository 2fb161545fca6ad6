# Logistic regression weights created with requires_grad, then moved to the training device.
# expect-cause: op-after-requires-grad
import torch

device = torch.device("cpu")
w = torch.randn(20, 1, requires_grad=True).to(device, torch.float64)
b = torch.zeros(1, dtype=torch.float64, device=device, requires_grad=True)
optimizer = torch.optim.Adam([w, b], lr=1e-2)  # expect: optimizer-non-leaf
