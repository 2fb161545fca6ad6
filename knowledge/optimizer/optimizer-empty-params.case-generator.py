# model.parameters() is a generator: counting the parameters used it up, and the optimizer
# then receives an empty iterator.
# expect-cause: generator-consumed
import torch
import torch.nn as nn

model = nn.Sequential(nn.Conv2d(3, 16, 3), nn.ReLU(), nn.Flatten(), nn.LazyLinear(10))
model(torch.zeros(1, 3, 32, 32))  # materialise the lazy layer

params = model.parameters()
print(f"{sum(p.numel() for p in params):,} parameters")
optimizer = torch.optim.AdamW(params, lr=3e-4, weight_decay=0.01)  # expect: optimizer-empty-params
