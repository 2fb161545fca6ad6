# A custom Function that works in place (mark_dirty) is applied straight to a parameter.
# expect-cause: custom-function-dirty-leaf
# expect-fix: shifted = ShiftInPlace.apply(bias.clone())
import torch


class ShiftInPlace(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        x.add_(1.0)
        ctx.mark_dirty(x)
        return x

    @staticmethod
    def backward(ctx, grad):
        return grad


bias = torch.nn.Parameter(torch.zeros(4))
shifted = ShiftInPlace.apply(bias)  # expect: leaf-inplace
shifted.sum().backward()
