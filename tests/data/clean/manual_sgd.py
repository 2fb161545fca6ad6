"""Gradient descent by hand: updates under no_grad, gradients reset in place."""
import torch

w = torch.randn(3, requires_grad=True)
b = torch.zeros(1, requires_grad=True)
data = torch.randn(100, 3)
target = data @ torch.tensor([1.0, -2.0, 0.5]) + 0.3
lr = 0.1

for step in range(100):
    prediction = data @ w + b
    loss = ((prediction - target) ** 2).mean()
    loss.backward()
    with torch.no_grad():
        w -= lr * w.grad
        b -= lr * b.grad
        w.grad.zero_()
        b.grad.zero_()

counts = torch.tensor([1, 2, 3])
scale = torch.tensor([1.0, 2.0], requires_grad=True)
ids = torch.arange(10)
print(loss.item(), counts.sum(), scale.detach().numpy(), ids)
