# has_aux=True, but the function returns only the loss, not (loss, aux).
# expect-cause: has-aux-without-tuple
import torch
from torch.func import grad_and_value

w = torch.randn(5)
x, y = torch.randn(64, 5), torch.randn(64)


def loss_fn(w, x, y):
    return ((x @ w - y) ** 2).mean()


(grads, (loss, aux)) = grad_and_value(loss_fn, has_aux=True)(w, x, y)  # expect: functorch-grad-nonscalar
