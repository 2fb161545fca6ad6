# A Function with a forward-mode rule (jvp) for jacfwd; the jvp drops a factor of 2.
# expect-cause: wrong-backward-formula
import torch


class Square(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        ctx.save_for_forward(x)
        return x ** 2

    @staticmethod
    def backward(ctx, grad_out):
        x, = ctx.saved_tensors
        return 2 * x * grad_out

    @staticmethod
    def jvp(ctx, x_tangent):
        x, = ctx.saved_tensors
        return x * x_tangent


x = torch.randn(5, dtype=torch.double, requires_grad=True)
torch.autograd.gradcheck(Square.apply, (x,), check_forward_ad=True)  # expect: gradcheck-mismatch
