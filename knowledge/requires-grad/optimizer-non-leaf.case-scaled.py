# A small random initialisation scaled after requires_grad=True.
# expect-cause: op-after-requires-grad
import torch

embeddings = torch.randn(1000, 64, requires_grad=True) * 0.01
opt = torch.optim.SGD([embeddings], lr=0.5)  # expect: optimizer-non-leaf
