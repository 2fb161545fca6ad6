# A large model built on the meta device (shapes only, no memory), then moved to a real
# device as if it had weights: there is nothing to copy.
# expect-cause: meta-init-not-materialized
import torch
import torch.nn as nn


class TransformerBlock(nn.Module):
    def __init__(self, dim=64, heads=4):
        super().__init__()
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)

    def forward(self, x):
        x = x + self.attn(*[self.norm1(x)] * 3, need_weights=False)[0]
        return x + self.mlp(self.norm2(x))


with torch.device("meta"):
    model = nn.Sequential(*[TransformerBlock() for _ in range(4)])

device = "cuda" if torch.cuda.is_available() else "cpu"
model = model.to(device)  # expect: device-meta-copy
