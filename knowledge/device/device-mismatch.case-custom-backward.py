# Pipeline-style model split: a hand-written Function moves activations to the next stage's
# device but its backward forgets to move the gradient back. On GPUs this reads "expected
# device cuda:0 but got cuda:1"; here the second stage is the meta device.
# expect-cause: custom-backward-wrong-device
import torch
from torch import nn


class ToStage(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, device):
        ctx.source = x.device
        return x.to(device)

    @staticmethod
    def backward(ctx, grad):
        return grad, None  # should be grad.to(ctx.source)


stage1 = nn.Linear(8, 8)
stage2 = nn.Linear(8, 1, device="meta")
hidden = stage1(torch.randn(4, 8))
out = stage2(ToStage.apply(hidden, torch.device("meta")))
out.sum().backward()  # expect: device-mismatch
