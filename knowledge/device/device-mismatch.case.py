# Device mismatches need a second device; the meta device is one that exists on every build.
# A buffer created in forward() lands on the default device, while the input is elsewhere.
import torch
import torch.nn as nn


class Scaler(nn.Module):
    def forward(self, x):
        scale = torch.ones(x.shape[-1])
        return x * scale  # expect: device-mismatch


x = torch.randn(4, 3, device="meta")
Scaler()(x)
