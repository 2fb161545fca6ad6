# Binary labels loaded as float64 from NumPy, next to a float32 sigmoid output.
# expect-cause: target-dtype
# expect-fix: loss = criterion(probs, labels.to(probs.dtype))
import numpy as np
import torch
import torch.nn as nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(6, 1), nn.Sigmoid())
criterion = nn.BCELoss()
inputs = torch.randn(16, 6)
labels = torch.from_numpy(np.random.default_rng(0).integers(0, 2, (16, 1)) * 1.0)

probs = model(inputs)
loss = criterion(probs, labels)  # expect: dtype-mismatch
loss.backward()
