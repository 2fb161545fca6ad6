# Linear regression with a hand-written gradient-descent step.
# expect-cause: manual-update
# expect-fix: with torch.no_grad(): w -= lr * w.grad
import torch

torch.manual_seed(0)
x = torch.randn(32, 3)
y = x @ torch.tensor([[1.0], [-2.0], [0.5]])
w = torch.zeros(3, 1, requires_grad=True)
lr = 0.1

for epoch in range(5):
    loss = ((x @ w - y) ** 2).mean()
    loss.backward()
    w -= lr * w.grad  # expect: leaf-inplace  # <- check
    w.grad.zero_()
print(w.detach().flatten().round(decimals=4))
