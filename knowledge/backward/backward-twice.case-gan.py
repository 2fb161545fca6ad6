# A GAN step: the discriminator loss uses the generator output without .detach().
# expect-cause: gan-fake-not-detached
import torch
import torch.nn as nn

G = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))
D = nn.Sequential(nn.Linear(2, 8), nn.LeakyReLU(0.2), nn.Linear(8, 1))
bce = nn.BCEWithLogitsLoss()
real = torch.randn(16, 2)
ones, zeros = torch.ones(16, 1), torch.zeros(16, 1)

fake = G(torch.randn(16, 4))
D.zero_grad()
loss_d = bce(D(real), ones) + bce(D(fake), zeros)
loss_d.backward()

G.zero_grad()
loss_g = bce(D(fake), ones)
loss_g.backward()  # expect: backward-twice
