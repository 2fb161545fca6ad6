# Magnitude pruning: the flat view of the weights is taken under inference_mode, but the
# small weights are zeroed after the block.
# expect-cause: view-created-in-inference-mode
# expect-fix: with torch.inference_mode(): flat[flat.abs() < threshold] = 0
import torch
import torch.nn as nn


def prune_smallest_(layer, amount):
    """Zero the `amount` fraction of weights with the smallest magnitude."""
    with torch.inference_mode():
        flat = layer.weight.view(-1)  # <- cause
        threshold = flat.abs().kthvalue(int(amount * flat.numel())).values
    flat[flat.abs() < threshold] = 0  # expect: inference-tensor-backward  # <- cause


model = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 10))
prune_smallest_(model[0], 0.5)
opt = torch.optim.SGD(model.parameters(), lr=0.1)
loss = model(torch.randn(4, 32)).pow(2).mean()
loss.backward()
opt.step()
