# GAN update order: the discriminator steps between its backward() and the generator's
# backward() through the same discriminator output.
# expect-cause: optimizer-step-between
import torch
import torch.nn as nn

G = nn.Linear(4, 4)
D = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
opt_g = torch.optim.Adam(G.parameters(), lr=1e-3)
opt_d = torch.optim.Adam(D.parameters(), lr=1e-3)

fake = G(torch.randn(8, 4))
d_out = D(fake)
loss_d = d_out.mean()
opt_d.zero_grad()
loss_d.backward(retain_graph=True)
opt_d.step()

loss_g = -d_out.mean()
opt_g.zero_grad()
loss_g.backward()  # expect: inplace-modified-saved
opt_g.step()
