# Transfer learning: the optimizer was built, then the backbone frozen and the head replaced.
# The optimizer holds only frozen parameters, none of which gets a gradient.
# expect-cause: no-grads-for-optimizer
import torch
import torch.nn as nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 10))
optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
scaler = torch.amp.GradScaler("cpu")

for param in model.parameters():
    param.requires_grad = False
model[2] = nn.Linear(32, 3)

inputs, targets = torch.randn(8, 16), torch.randint(0, 3, (8,))
with torch.autocast("cpu", dtype=torch.float16):
    loss = nn.functional.cross_entropy(model(inputs), targets)
scaler.scale(loss).backward()
scaler.step(optimizer)  # expect: amp-no-inf-checks
scaler.update()
