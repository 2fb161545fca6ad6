# hessian() needs a function that returns one number.
# expect-cause: hessian-vector-function
import torch
from torch.autograd.functional import hessian


def energy(x):
    return x ** 3


h = hessian(energy, torch.randn(3))  # expect: nonscalar-backward
