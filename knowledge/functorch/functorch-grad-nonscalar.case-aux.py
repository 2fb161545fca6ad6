# The loss function also returns the predictions, but grad was not told about it.
# expect-cause: tuple-without-has-aux
# expect-fix: grads, aux = grad(loss_fn, has_aux=True)(w, x, y)
import torch
from torch.func import grad

w = torch.randn(5)
x, y = torch.randn(64, 5), torch.randn(64)


def loss_fn(w, x, y):
    pred = x @ w
    return ((pred - y) ** 2).mean(), pred


grads = grad(loss_fn)(w, x, y)  # expect: functorch-grad-nonscalar
