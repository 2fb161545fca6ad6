# A binary classifier whose last layer is linear, trained with nn.BCELoss.
# expect-cause: logits-into-bce
# expect-fix: loss = criterion(torch.sigmoid(scores), labels)
import torch
import torch.nn as nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 1))
criterion = nn.BCELoss()
x = torch.randn(16, 10)
labels = torch.randint(0, 2, (16, 1)).float()

scores = model(x)
loss = criterion(scores, labels)  # expect: bce-input-range
loss.backward()
