# Logging the loss as a Python float from inside the function that grad differentiates.
# expect-cause: python-number-returned
import torch
from torch.func import grad

w = torch.randn(5)
x, y = torch.randn(64, 5), torch.randn(64)


def loss_fn(w):
    loss = ((x @ w - y) ** 2).mean()
    return loss.item()


for step in range(10):
    w = w - 0.1 * grad(loss_fn)(w)  # expect: functorch-grad-nonscalar
