# Counts to predict (int64) as regression targets: HuberLoss accepts them, backward() does not.
# expect-cause: integer-float-target
import torch
import torch.nn as nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 1))
criterion = nn.HuberLoss(delta=2.0)
x = torch.randn(20, 5)
counts = torch.randint(0, 10, (20, 1))

loss = criterion(model(x), counts)
loss.backward()  # expect: loss-target-dtype
