# Tabular features prepared with NumPy are float64; nn.Linear's weights are float32.
# expect-cause: numpy-float64
# expect-fix: preds = model(features.float())
import numpy as np
import torch
import torch.nn as nn

rng = np.random.default_rng(0)
X = rng.normal(size=(64, 5))
X = (X - X.mean(axis=0)) / X.std(axis=0)
y = X @ rng.normal(size=5)

model = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 1))
optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
features, targets = torch.from_numpy(X), torch.from_numpy(y)

for epoch in range(3):
    optimizer.zero_grad()
    preds = model(features)  # expect: dtype-mismatch
    loss = nn.functional.mse_loss(preds.squeeze(1), targets)
    loss.backward()
    optimizer.step()
