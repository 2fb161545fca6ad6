# Regression with a one-output head: the prediction is [N, 1], the target [N]. MSE broadcasts
# them to [N, N]; the script runs, the loss goes down, and the model learns the mean.
# expect-exit: 0
# expect-cause: prediction-has-trailing-one
# expect-fix: loss = F.mse_loss(model(x).squeeze(-1), y)
import torch
import torch.nn.functional as F
from torch import nn

torch.manual_seed(0)
x = torch.randn(64, 5)
y = x @ torch.randn(5) + 0.1 * torch.randn(64)
model = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 1))
opt = torch.optim.SGD(model.parameters(), lr=0.05)

for epoch in range(20):
    opt.zero_grad()
    loss = F.mse_loss(model(x), y)  # expect: loss-size-broadcast
    loss.backward()
    opt.step()
print(f"final loss {loss.item():.3f}")
