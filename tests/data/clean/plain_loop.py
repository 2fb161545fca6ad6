"""A plain training loop written the way the PyTorch tutorials write it."""
import torch
from torch import nn

model = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 1))
optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
criterion = nn.MSELoss()
inputs, targets = torch.randn(64, 10), torch.randn(64, 1)

for epoch in range(5):
    optimizer.zero_grad()
    outputs = model(inputs)
    loss = criterion(outputs, targets)
    loss.backward()
    optimizer.step()
    print(epoch, loss.item())

with torch.no_grad():
    predictions = model(inputs)
    error = (predictions - targets).abs().mean()
print(error.numpy(), predictions.detach().cpu().numpy().shape)

per_sample = nn.CrossEntropyLoss(reduction="none")
logits = torch.randn(8, 3, requires_grad=True)
labels = torch.randint(0, 3, (8,))
weights = torch.rand(8)
weighted = (per_sample(logits, labels) * weights).mean()
weighted.backward()

x = torch.tensor([5.0, 5.0], requires_grad=True)
y = x * 2
y.backward(gradient=torch.ones_like(y))
z = (x * x).sum()
z.backward()
