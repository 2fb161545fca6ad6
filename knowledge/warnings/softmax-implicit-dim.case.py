# Self-attention over a batch of sequences: the scores are (batch, query, key), a 3-D tensor,
# for which the implicit choice is dim 0: each weight is normalised across the batch, not
# across the keys. Training runs; samples leak into each other's outputs.
# expect-exit: 0
# expect-cause: batch-dim-chosen
# expect-fix: weights = F.softmax(scores, dim=-1)
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class SelfAttention(nn.Module):
    def __init__(self, dim=16):
        super().__init__()
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, x):
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        scores = q @ k.transpose(1, 2) / math.sqrt(q.shape[-1])
        weights = F.softmax(scores)  # expect: softmax-implicit-dim
        self.last_weights = weights.detach()
        return self.out(weights @ v)


torch.manual_seed(0)
attention = SelfAttention()
x = torch.randn(4, 6, 16)
out = attention(x)
out.pow(2).mean().backward()
print("attention weights of the first query sum to", attention.last_weights[0, 0].sum().item())
