# Early stopping on per-sample losses: `losses < 0.05` is one True/False per sample,
# and `if` needs a single one.
# expect-cause: tensor-in-condition
# expect-fix: if (losses < 0.05).all():
# expect-fix: if (losses < 0.05).any():
import torch
import torch.nn as nn

torch.manual_seed(0)
model = nn.Linear(10, 3)
criterion = nn.CrossEntropyLoss(reduction="none")  # per-sample, to weight hard examples
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
inputs, labels = torch.randn(32, 10), torch.randint(0, 3, (32,))

for epoch in range(100):
    losses = criterion(model(inputs), labels)
    weights = 1.0 + (losses > losses.median()).float()
    optimizer.zero_grad()
    (weights * losses).mean().backward()
    optimizer.step()
    if losses < 0.05:  # expect: bool-ambiguous
        break
