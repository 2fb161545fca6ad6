# The forward pass was wrapped in torch.no_grad() while copying code from an evaluation loop.
# expect-cause: no-grad-context
import torch
import torch.nn as nn

torch.manual_seed(0)
model = nn.Linear(3, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
x, y = torch.randn(16, 3), torch.randn(16, 1)

for step in range(3):
    pred = model(x)  # <- cause
    loss = nn.functional.mse_loss(pred, y)
    optimizer.zero_grad()
    loss.backward()  # expect: no-grad-fn  # <- check
    optimizer.step()
    print(round(loss.item(), 4))
