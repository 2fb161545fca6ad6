# A VAE encoder splits its output into mean and log-variance and clamps the latter in place.
# expect-cause: multi-output-view-modified
# expect-fix: logvar = logvar.clamp(-20, 2)
import torch
import torch.nn as nn


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Linear(8, 2 * 4)

    def forward(self, x):
        mu, logvar = self.net(x).chunk(2, dim=-1)  # <- cause
        logvar.clamp_(-20, 2)  # expect: view-inplace  # <- cause
        return mu, logvar


mu, logvar = Encoder()(torch.randn(3, 8))
