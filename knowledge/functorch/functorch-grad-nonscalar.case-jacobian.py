# The velocity field of a small ODE model: its derivative with respect to the state is a
# Jacobian matrix, which grad cannot give.
# expect-cause: wants-jacobian
# expect-fix: jac = jacrev(velocity)(state)
import torch
from torch.func import grad

weight = torch.randn(3, 3)


def velocity(state):
    return torch.tanh(weight @ state)


state = torch.randn(3)
jac = grad(velocity)(state)  # expect: functorch-grad-nonscalar
