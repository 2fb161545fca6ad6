# Class labels collected in a Python list and turned into a tensor with torch.Tensor (float32).
# expect-cause: class-indices-not-int64
# expect-fix: loss = criterion(logits, targets.long())
import torch
import torch.nn as nn

torch.manual_seed(0)
samples = [(torch.randn(12), i % 4) for i in range(32)]
inputs = torch.stack([x for x, _ in samples])
targets = torch.Tensor([label for _, label in samples])

model = nn.Sequential(nn.Linear(12, 32), nn.ReLU(), nn.Linear(32, 4))
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

for step in range(2):
    optimizer.zero_grad()
    logits = model(inputs)
    loss = criterion(logits, targets)  # expect: loss-target-dtype
    loss.backward()
    optimizer.step()
