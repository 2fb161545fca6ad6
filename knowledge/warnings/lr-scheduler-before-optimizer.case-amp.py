# Mixed precision with the steps in the right order: GradScaler's first scale (65536) makes
# the float16 gradients overflow, so scaler.step() skips optimizer.step() on the first
# iterations, and the scheduler's first step comes before any optimizer step.
# expect-exit: 0
# expect-cause: amp-skipped-step
import torch
import torch.nn as nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 1))
optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: min(1.0, (step + 1) / 10))
scaler = torch.amp.GradScaler("cpu")
inputs, targets = torch.randn(4, 8), 50 + torch.randn(4, 1)

for step in range(3):
    optimizer.zero_grad()
    with torch.autocast("cpu", dtype=torch.float16):
        loss = nn.functional.mse_loss(model(inputs), targets)
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
    scheduler.step()  # expect: lr-scheduler-before-optimizer
    print(f"step {step}: scale {scaler.get_scale():.0f} lr {scheduler.get_last_lr()[0]:.4f}")
