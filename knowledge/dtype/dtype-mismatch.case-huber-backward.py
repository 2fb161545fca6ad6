# Regression targets read from a float64 column: HuberLoss accepts them, backward() does not.
# expect-cause: target-dtype
import numpy as np
import torch
import torch.nn as nn

rng = np.random.default_rng(0)
table = rng.normal(size=(32, 4)).astype(np.float32)
prices = table.sum(axis=1).astype(np.float64)

model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
criterion = nn.HuberLoss()
features, targets = torch.from_numpy(table), torch.from_numpy(prices).unsqueeze(1)

loss = criterion(model(features), targets)
loss.backward()  # expect: dtype-mismatch
