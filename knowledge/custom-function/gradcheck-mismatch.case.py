# Testing a hand-written Swish activation: backward forgot the product rule.
# expect-cause: wrong-backward-formula
import torch


class Swish(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        s = torch.sigmoid(x)
        ctx.save_for_backward(x, s)
        return x * s

    @staticmethod
    def backward(ctx, grad_out):
        x, s = ctx.saved_tensors
        return grad_out * s


x = torch.randn(2, 3, dtype=torch.double, requires_grad=True)
torch.autograd.gradcheck(Swish.apply, (x,))  # expect: gradcheck-mismatch
