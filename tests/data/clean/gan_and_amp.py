"""A GAN step with mixed precision: two losses, the fake batch detached for the critic."""
import torch
from torch import nn

generator = nn.Sequential(nn.Linear(16, 32), nn.Tanh())
critic = nn.Sequential(nn.Linear(32, 1), nn.Sigmoid())
g_opt = torch.optim.Adam(generator.parameters(), lr=2e-4)
d_opt = torch.optim.Adam(critic.parameters(), lr=2e-4)
bce = nn.BCELoss()
scaler = torch.amp.GradScaler("cpu")

for step in range(3):
    real = torch.randn(8, 32)
    fake = generator(torch.randn(8, 16))
    d_opt.zero_grad()
    d_loss = bce(critic(real), torch.ones(8, 1)) + bce(critic(fake.detach()), torch.zeros(8, 1))
    d_loss.backward()
    d_opt.step()
    g_opt.zero_grad()
    g_loss = bce(critic(fake), torch.ones(8, 1))
    scaler.scale(g_loss).backward()
    scaler.step(g_opt)
    scaler.update()

features = torch.randn(4, 32, requires_grad=True)
activations = torch.sigmoid(features)
shifted = activations + 1
shifted.sum().backward()
first, second = torch.randn(2, 3, requires_grad=True).unbind(0)
(first * second).sum().backward(retain_graph=False)
