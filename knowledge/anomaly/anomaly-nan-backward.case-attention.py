# Self-attention over padded sequences: a sample that is all padding has every score
# masked with -inf, and softmax of a row of -inf is nan.
# expect-cause: masked-softmax-row
import torch
import torch.nn as nn

torch.manual_seed(0)
torch.autograd.set_detect_anomaly(True)


class SelfAttention(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.qkv = nn.Linear(dim, 3 * dim)
        self.scale = dim ** -0.5

    def forward(self, x, padding):
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        scores = q @ k.transpose(1, 2) * self.scale
        scores = scores.masked_fill(padding[:, None, :], float("-inf"))
        return torch.softmax(scores, dim=-1) @ v


attention = SelfAttention(16)
tokens = torch.randn(3, 5, 16)
lengths = torch.tensor([5, 2, 0])  # the last sample is empty after filtering
padding = torch.arange(5)[None, :] >= lengths[:, None]

out = attention(tokens, padding)
loss = out[lengths > 0].pow(2).mean()
loss.backward()  # expect: anomaly-nan-backward
