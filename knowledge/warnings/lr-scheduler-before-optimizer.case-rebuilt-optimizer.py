# Fine-tuning: the optimizer is rebuilt for the unfrozen parameters after the scheduler was
# created. The scheduler still drives the first optimizer, which never steps: the learning
# rate of the optimizer that trains the model never decays.
# expect-exit: 0
# expect-cause: optimizer-rebuilt
import torch
import torch.nn as nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=3)

for param in model[0].parameters():
    param.requires_grad = False
optimizer = torch.optim.AdamW((p for p in model.parameters() if p.requires_grad), lr=1e-3)

inputs, labels = torch.randn(32, 8), torch.randint(0, 2, (32,))
for epoch in range(3):
    optimizer.zero_grad()
    loss = nn.functional.cross_entropy(model(inputs), labels)
    loss.backward()
    optimizer.step()
    scheduler.step()  # expect: lr-scheduler-before-optimizer
    print(f"epoch {epoch}: scheduled lr {scheduler.get_last_lr()[0]:.2e}, "
          f"lr used {optimizer.param_groups[0]['lr']:.2e}")
