# Token features from NumPy (float64) go straight into a LayerNorm on the CPU.
# expect-cause: numpy-float64
# expect-fix: h = self.norm(x.float())
import numpy as np
import torch
import torch.nn as nn


class Block(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

    def forward(self, x):
        h = self.norm(x)  # expect: dtype-mismatch
        return x + self.mlp(h)


tokens = torch.from_numpy(np.random.default_rng(0).normal(size=(2, 5, 8)))
Block(8)(tokens).sum().backward()
