# A test suite that turns warnings into errors (pytest -W error, filterwarnings = error):
# checkpoint() without use_reentrant now fails. torch 2.13's warning itself names a line
# inside torch (its _disable_dynamo wrapper), so only this form points at the call.
# expect-cause: explicit-call
# expect-fix: x = checkpoint(block, x, use_reentrant=False)
import warnings

import torch
import torch.nn as nn
from torch.utils.checkpoint import checkpoint

warnings.simplefilter("error")


class Encoder(nn.Module):
    def __init__(self, dim=32, layers=4):
        super().__init__()
        self.embed = nn.Embedding(100, dim)
        self.layers = nn.ModuleList(
            nn.TransformerEncoderLayer(dim, nhead=4, dim_feedforward=64, batch_first=True)
            for _ in range(layers))

    def forward(self, tokens):
        x = self.embed(tokens)
        for block in self.layers:
            x = checkpoint(block, x)  # expect: checkpoint-use-reentrant-unspecified
        return x.mean(dim=1)


def test_encoder_backward():
    torch.manual_seed(0)
    model = Encoder()
    model(torch.randint(0, 100, (2, 10))).sum().backward()
    assert all(p.grad is not None for p in model.parameters())


test_encoder_backward()
