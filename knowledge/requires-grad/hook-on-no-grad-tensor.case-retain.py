# Input-gradient attribution: keep the gradient of the input batch.
# expect-cause: input-without-requires-grad
# expect-fix: images.requires_grad_()
import torch
import torch.nn as nn

model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 4))
images = torch.rand(2, 3, 8, 8)
images.retain_grad()  # expect: hook-on-no-grad-tensor
model(images).max(dim=1).values.sum().backward()
print(images.grad.abs().mean())
