# Labels kept as a column of shape (N, 1), as a DataFrame column selection gives them.
# expect-cause: target-extra-dimension
# expect-fix: loss = criterion(model(x), y.squeeze(1))
import torch
import torch.nn as nn

torch.manual_seed(0)
table = torch.randn(24, 5)
x = table[:, :4]
y = (table[:, 4] > 0).long().unsqueeze(1)

model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
criterion = nn.CrossEntropyLoss()
loss = criterion(model(x), y)  # expect: loss-target-dtype
loss.backward()
