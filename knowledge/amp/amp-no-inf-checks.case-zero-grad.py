# zero_grad() between backward() and step(): it sets every .grad to None (the default since
# torch 2.0), so the scaler finds no gradient to check.
# expect-cause: zero-grad-before-step
import torch
import torch.nn as nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
scaler = torch.amp.GradScaler("cpu")


def train_step(inputs, targets):
    with torch.autocast("cpu", dtype=torch.float16):
        loss = nn.functional.cross_entropy(model(inputs), targets)
    scaler.scale(loss).backward()
    optimizer.zero_grad()
    scaler.step(optimizer)  # expect: amp-no-inf-checks
    scaler.update()
    return loss.item()


train_step(torch.randn(8, 16), torch.randint(0, 4, (8,)))
