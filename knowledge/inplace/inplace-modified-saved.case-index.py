# Masking the output of a sigmoid by index assignment overwrites what sigmoid saved.
# expect-cause: inplace-op-on-saved
import torch

torch.manual_seed(0)
x = torch.randn(6, requires_grad=True)
probs = torch.sigmoid(x)
probs[probs > 0.5] = 0  # <- cause  # <- check
loss = probs.sum()
loss.backward()  # expect: inplace-modified-saved
print(x.grad.round(decimals=4))
