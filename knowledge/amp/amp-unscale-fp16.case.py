# "Mixed precision" done by hand: the model was converted to float16 with .half(), so its
# gradients are float16 too, and GradScaler refuses to unscale them.
# expect-cause: half-weights
import torch
import torch.nn as nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4)).half()
optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
scaler = torch.amp.GradScaler("cpu")
criterion = nn.CrossEntropyLoss()

for step in range(3):
    inputs, targets = torch.randn(8, 16).half(), torch.randint(0, 4, (8,))
    optimizer.zero_grad()
    loss = criterion(model(inputs).float(), targets)
    scaler.scale(loss).backward()
    scaler.step(optimizer)  # expect: amp-unscale-fp16
    scaler.update()
