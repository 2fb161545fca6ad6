# Binary labels sampled with torch.randint are int64; BCELoss needs float targets.
# expect-cause: integer-float-target
# expect-fix: loss = criterion(probs, labels.float())
import torch
import torch.nn as nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 1), nn.Sigmoid())
criterion = nn.BCELoss()
x = torch.randn(32, 8)
labels = torch.randint(0, 2, (32, 1))

probs = model(x)
loss = criterion(probs, labels)  # expect: loss-target-dtype
loss.backward()
