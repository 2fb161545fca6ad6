# Class weights for an imbalanced data set, computed with NumPy (float64).
# expect-cause: class-weights-dtype
import numpy as np
import torch
import torch.nn as nn

torch.manual_seed(0)
labels = torch.tensor([0, 0, 0, 0, 0, 1, 1, 2])
counts = np.bincount(labels.numpy(), minlength=3)
class_weights = len(labels) / (3 * counts)

model = nn.Linear(10, 3)
criterion = nn.CrossEntropyLoss(weight=torch.from_numpy(class_weights))
logits = model(torch.randn(8, 10))
loss = criterion(logits, labels)  # expect: dtype-mismatch
loss.backward()
