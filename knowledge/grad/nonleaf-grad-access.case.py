# Hand-written gradient descent: the update rebinds `w` to a computed tensor, so on the next
# pass `w` is a non-leaf and its .grad is None (torch warns, then .zero_() fails).
# expect-cause: rebound-to-non-leaf
import torch

torch.manual_seed(0)
x = torch.randn(32, 3)
y = x @ torch.tensor([1.0, -2.0, 0.5])
w = torch.zeros(3, requires_grad=True)
lr = 0.1

for step in range(3):
    loss = ((x @ w - y) ** 2).mean()
    loss.backward()
    w = w - lr * w.grad
    w.grad.zero_()  # expect: nonleaf-grad-access
