# Quantisation-aware training: the fake-quantiser returns its input unchanged at full
# precision, and the model scales the result in place by a learnable gain. The images do
# not require grad, so torch words it as a view "created in no_grad mode".
# expect-cause: custom-function-output-modified
# expect-fix: x = x.mul(self.gain)
import torch
import torch.nn as nn


class FakeQuant(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, bits):
        if bits >= 32:
            return x  # full precision: nothing to quantise
        scale = (2 ** bits - 1) / x.abs().max()
        return torch.round(x * scale) / scale

    @staticmethod
    def backward(ctx, grad):
        return grad, None  # straight-through estimator


class QuantNet(nn.Module):
    def __init__(self, bits):
        super().__init__()
        self.bits = bits
        self.gain = nn.Parameter(torch.ones(1, 3, 1, 1))
        self.conv = nn.Conv2d(3, 8, 3)

    def forward(self, images):
        x = FakeQuant.apply(images, self.bits)  # <- cause
        x.mul_(self.gain)  # expect: view-inplace  # <- cause
        return self.conv(x).mean()


model = QuantNet(bits=32)
loss = model(torch.randn(2, 3, 16, 16))
loss.backward()
