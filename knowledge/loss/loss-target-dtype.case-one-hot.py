# Labels one-hot encoded with F.one_hot (int64, shape (N, C)) for CrossEntropyLoss.
# expect-cause: one-hot-targets
# expect-fix: loss = F.cross_entropy(logits, labels.argmax(dim=1))
# expect-fix: loss = F.cross_entropy(logits, labels.float())
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
model = nn.Linear(10, 5)
x = torch.randn(16, 10)
labels = F.one_hot(torch.randint(0, 5, (16,)), num_classes=5)

logits = model(x)
loss = F.cross_entropy(logits, labels)  # expect: loss-target-dtype
loss.backward()
