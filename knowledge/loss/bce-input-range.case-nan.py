# A constant feature column is standardised: 0 / 0 gives NaN, and so does the sigmoid.
# expect-cause: nan-predictions
import torch
import torch.nn as nn

torch.manual_seed(0)
features = torch.randn(16, 4)
features[:, 2] = 1.0
features = (features - features.mean(0)) / features.std(0)
labels = torch.randint(0, 2, (16, 1)).float()

model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1), nn.Sigmoid())
loss = nn.BCELoss()(model(features), labels)  # expect: bce-input-range
loss.backward()
