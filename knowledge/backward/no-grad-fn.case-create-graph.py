# A WGAN-GP style gradient penalty: the first gradient is taken without a graph of its own.
# expect-cause: missing-create-graph
import torch
import torch.nn as nn

critic = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 1))
real, fake = torch.randn(8, 2), torch.randn(8, 2)
alpha = torch.rand(8, 1)
mixed = (alpha * real + (1 - alpha) * fake).requires_grad_(True)

scores = critic(mixed)
grads, = torch.autograd.grad(scores.sum(), mixed)
penalty = ((grads.norm(2, dim=1) - 1) ** 2).mean()
penalty.backward()  # expect: no-grad-fn
