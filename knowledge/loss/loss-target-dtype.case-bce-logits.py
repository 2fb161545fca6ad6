# Multi-label classification: the 0/1 label matrix is int64, BCEWithLogitsLoss wants floats.
# expect-cause: integer-float-target
# expect-fix: loss = criterion(model(x), labels.float())
import torch
import torch.nn as nn

torch.manual_seed(0)
model = nn.Linear(10, 6)
criterion = nn.BCEWithLogitsLoss()
x = torch.randn(8, 10)
labels = (torch.rand(8, 6) > 0.7).long()

loss = criterion(model(x), labels)  # expect: loss-target-dtype
loss.backward()
