# Fine-tuning: the new head is attached before the whole model is frozen, so no parameter
# requires grad and the filter passes nothing to the optimizer.
# expect-cause: selection-empty
import torch
import torch.nn as nn

backbone = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU())
model = nn.Sequential()
model.add_module("backbone", backbone)
model.add_module("head", nn.Linear(64, 3))  # new head for our 3 classes

for p in model.parameters():
    p.requires_grad = False  # meant to freeze the backbone only

optimizer = torch.optim.SGD(filter(lambda p: p.requires_grad, model.parameters()), lr=0.01)  # expect: optimizer-empty-params
