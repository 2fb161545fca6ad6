# NumPy used inside a function differentiated with torch.func.grad.
# expect-cause: numpy-inside-func-transform
import numpy as np
import torch
from torch.func import grad


def regularised(w):
    l1 = np.abs(w.numpy()).sum()  # expect: numpy-requires-grad
    return (w ** 2).sum() + 0.1 * l1


g = grad(regularised)(torch.randn(3))
