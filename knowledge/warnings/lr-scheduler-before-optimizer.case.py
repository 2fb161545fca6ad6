# The pre-1.1 idiom: the scheduler is stepped at the top of each epoch, before the optimizer
# has stepped, so the first learning rate of the schedule (0.1) is never used.
# expect-exit: 0
# expect-cause: scheduler-stepped-first
import torch
import torch.nn as nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 1))
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
inputs, targets = torch.randn(64, 8), torch.randn(64, 1)

for epoch in range(3):
    scheduler.step()  # expect: lr-scheduler-before-optimizer
    for batch in range(0, 64, 16):
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(inputs[batch:batch + 16]), targets[batch:batch + 16])
        loss.backward()
        optimizer.step()
    print(f"epoch {epoch}: lr {optimizer.param_groups[0]['lr']:.3f} loss {loss.item():.4f}")
