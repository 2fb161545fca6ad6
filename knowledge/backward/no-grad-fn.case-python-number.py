# Per-batch losses are collected as Python floats and summed into a brand-new tensor.
# expect-cause: python-number
import torch
import torch.nn as nn

model = nn.Linear(3, 1)
batches = [(torch.randn(8, 3), torch.randn(8, 1)) for _ in range(4)]


def accumulated_loss():
    losses = []
    for x, y in batches:
        losses.append(nn.functional.mse_loss(model(x), y).item())
    return torch.tensor(sum(losses) / len(losses))  # <- cause


loss = accumulated_loss()
model.zero_grad()
loss.backward()  # expect: no-grad-fn
