# WGAN-GP gradient penalty: grad_outputs is shaped like the images, not the critic's output.
# expect-cause: gradient-of-another-tensor
# expect-fix: grads, = torch.autograd.grad(scores, mixed, grad_outputs=torch.ones_like(scores), create_graph=True)
import torch
import torch.nn as nn

critic = nn.Sequential(nn.Linear(10, 32), nn.LeakyReLU(0.2), nn.Linear(32, 1))


def gradient_penalty(real, fake):
    eps = torch.rand(real.size(0), 1)
    mixed = (eps * real + (1 - eps) * fake).requires_grad_(True)
    scores = critic(mixed)
    grads, = torch.autograd.grad(scores, mixed, grad_outputs=torch.ones_like(real), create_graph=True)  # expect: grad-shape-mismatch
    return ((grads.norm(2, dim=1) - 1) ** 2).mean()


gradient_penalty(torch.randn(16, 10), torch.randn(16, 10))
