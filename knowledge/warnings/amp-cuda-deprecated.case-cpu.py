# bfloat16 training on the CPU with the old torch.cpu.amp.autocast context manager.
# expect-exit: 0
# expect-cause: cpu-amp-api
# expect-fix: with torch.autocast("cpu", dtype=torch.bfloat16):
import torch
import torch.nn as nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
inputs, labels = torch.randn(8, 16), torch.randint(0, 4, (8,))

for step in range(3):
    optimizer.zero_grad()
    with torch.cpu.amp.autocast(dtype=torch.bfloat16):  # expect: amp-cuda-deprecated
        loss = nn.functional.cross_entropy(model(inputs), labels)
    loss.backward()
    optimizer.step()
print(f"loss {loss.item():.4f}")
