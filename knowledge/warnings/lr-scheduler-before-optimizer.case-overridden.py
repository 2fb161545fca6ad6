# optimizer.step is replaced (to clip gradients on every step) after the scheduler was
# created, so the scheduler can no longer see when the optimizer steps.
# expect-exit: 0
# expect-cause: optimizer-step-overridden
import torch
import torch.nn as nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 1))
optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=0.9)

unclipped_step = optimizer.step


def clipped_step(closure=None):
    nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
    return unclipped_step(closure)


optimizer.step = clipped_step

inputs, targets = torch.randn(32, 8), torch.randn(32, 1)
for epoch in range(3):
    optimizer.zero_grad()
    loss = nn.functional.mse_loss(model(inputs), targets)
    loss.backward()
    optimizer.step()
    scheduler.step()  # expect: lr-scheduler-before-optimizer
    print(f"epoch {epoch}: loss {loss.item():.4f}")
