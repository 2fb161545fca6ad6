# Review ratings 1-5 used directly as the classes of a 5-way classifier.
# expect-cause: labels-start-at-one
# expect-fix: loss = criterion(logits, ratings - 1)
import torch
import torch.nn as nn

torch.manual_seed(0)
reviews = torch.randn(10, 16)
ratings = torch.tensor([5, 3, 4, 1, 2, 5, 4, 4, 3, 1])

model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 5))
criterion = nn.CrossEntropyLoss()
logits = model(reviews)
loss = criterion(logits, ratings)  # expect: ce-target-out-of-bounds
loss.backward()
