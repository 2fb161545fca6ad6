# The loss class is called with the tensors: nn.CrossEntropyLoss(outputs, labels) builds a
# loss object with weight=outputs and size_average=labels, and size_average is read as a bool.
# expect-cause: tensor-as-flag
# expect-fix: loss = nn.CrossEntropyLoss()(outputs, labels)
import torch
import torch.nn as nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 5))
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
inputs, labels = torch.randn(16, 20), torch.randint(0, 5, (16,))

outputs = model(inputs)
loss = nn.CrossEntropyLoss(outputs, labels)  # expect: bool-ambiguous
optimizer.zero_grad()
loss.backward()
optimizer.step()
