# A sigmoid head trained with BCELoss: the [N, 1] probabilities against a [N] label vector.
# BCELoss refuses (MSE would only have warned).
# expect-cause: prediction-has-trailing-one
# expect-fix: loss = criterion(probs.squeeze(-1), labels)
import torch
from torch import nn

torch.manual_seed(0)
features = torch.randn(16, 3)
labels = (features.sum(dim=1) > 0).float()
model = nn.Sequential(nn.Linear(3, 1), nn.Sigmoid())
criterion = nn.BCELoss()

probs = model(features)
loss = criterion(probs, labels)  # expect: loss-size-broadcast
loss.backward()
