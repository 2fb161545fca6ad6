# Float targets for a multi-label loss made with new_tensor() from a label tensor: a copy of
# data that needs no gradient, written in the form torch discourages.
# expect-exit: 0
# expect-cause: data-copy
# expect-fix: targets = labels.detach().clone().to(logits)
# expect-fix: targets = labels.to(logits)
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(12, 32), nn.ReLU(), nn.Linear(32, 5))
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
inputs = torch.randn(16, 12)
labels = torch.randint(0, 2, (16, 5))

for step in range(3):
    optimizer.zero_grad()
    logits = model(inputs)
    targets = logits.new_tensor(labels)  # expect: tensor-copy-construct
    loss = F.binary_cross_entropy_with_logits(logits, targets)
    loss.backward()
    optimizer.step()
print(f"loss {loss.item():.4f}")
