# A hard-tanh Function checked on a grid that lands exactly on its corners at -1 and 1,
# where the function has no derivative.
# expect-cause: non-differentiable-point
import torch


class HardTanh(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.clamp(-1, 1)

    @staticmethod
    def backward(ctx, grad_out):
        x, = ctx.saved_tensors
        return grad_out * (x.abs() <= 1)


x = torch.linspace(-2, 2, 9, dtype=torch.double, requires_grad=True)
torch.autograd.gradcheck(HardTanh.apply, (x,))  # expect: gradcheck-mismatch
