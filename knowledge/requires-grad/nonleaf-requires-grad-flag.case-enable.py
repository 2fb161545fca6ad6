# A weight vector is moved to the device and then marked trainable.
# expect-cause: enable-on-computed
import torch

device = torch.device("cpu")
w = torch.randn(10, 1, requires_grad=True).to(device, torch.float64)
w.requires_grad = True  # expect: nonleaf-requires-grad-flag
opt = torch.optim.SGD([w], lr=0.1)
