# A criterion that does not reduce keeps one loss value per sample.
# expect-cause: per-sample-loss
# expect-fix: _loss.mean().backward()
import torch
import torch.nn as nn

torch.manual_seed(0)
model = nn.Linear(4, 1)
criterion = nn.MSELoss(reduction="none")
inputs, targets = torch.randn(8, 4), torch.randn(8, 1)


def train_step():
    _loss = criterion(model(inputs), targets)
    _loss.mean().backward()  # expect: nonscalar-backward  # <- check


train_step()
print(model.weight.grad.round(decimals=4), model.bias.grad.round(decimals=4))
