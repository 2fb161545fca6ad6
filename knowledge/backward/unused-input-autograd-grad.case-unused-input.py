# A physics-informed loss asks for du/dt, but the network u only takes x.
# expect-cause: input-not-in-output
# expect-fix: du_dx, du_dt = torch.autograd.grad(u.sum(), [x, t], create_graph=True, allow_unused=True, materialize_grads=True)
import torch
import torch.nn as nn

net = nn.Sequential(nn.Linear(1, 16), nn.Tanh(), nn.Linear(16, 1))
x = torch.linspace(0, 1, 20).unsqueeze(1).requires_grad_(True)
t = torch.zeros(20, 1, requires_grad=True)


def residual(x, t):
    u = net(x)
    du_dx, du_dt = torch.autograd.grad(u.sum(), [x, t], create_graph=True)  # expect: unused-input-autograd-grad
    return du_dt - 0.1 * du_dx


residual(x, t)
