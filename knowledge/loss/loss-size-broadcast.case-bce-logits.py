# Binary classifier: BCEWithLogitsLoss refuses a [N, 1] logit against a [N] label vector.
# expect-cause: prediction-has-trailing-one
# expect-fix: loss = criterion(logits.squeeze(-1), labels)
import torch
from torch import nn

torch.manual_seed(0)
features = torch.randn(32, 10)
labels = (features[:, 0] > 0).float()
classifier = nn.Linear(10, 1)
criterion = nn.BCEWithLogitsLoss()

logits = classifier(features)
loss = criterion(logits, labels)  # expect: loss-size-broadcast
loss.backward()
