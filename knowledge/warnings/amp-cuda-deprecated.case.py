# A mixed-precision training loop half migrated to torch.amp: autocast uses the new API, the
# GradScaler the old torch.cuda.amp one. (Mixed precision is enabled only where CUDA is.)
# expect-exit: 0
# expect-cause: cuda-amp-api
# expect-fix: scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
import torch
import torch.nn as nn

use_amp = torch.cuda.is_available()
device = "cuda" if use_amp else "cpu"
torch.manual_seed(0)
model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 1)).to(device)
optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
scaler = torch.cuda.amp.GradScaler(enabled=use_amp)  # expect: amp-cuda-deprecated
inputs, targets = torch.randn(8, 16, device=device), torch.randn(8, 1, device=device)

for step in range(3):
    optimizer.zero_grad()
    with torch.autocast(device, dtype=torch.float16, enabled=use_amp):
        loss = nn.functional.mse_loss(model(inputs), targets)
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
print(f"loss {loss.item():.4f}")
