# A custom squared-error whose backward detaches a saved tensor: its gradient is right,
# but the second derivative through that path is lost, and gradgradcheck sees it.
# expect-cause: backward-not-differentiable
import torch


class SquaredError(torch.autograd.Function):
    @staticmethod
    def forward(ctx, pred, target):
        diff = pred - target
        ctx.save_for_backward(diff)
        return (diff ** 2).sum()

    @staticmethod
    def backward(ctx, grad_out):
        diff, = ctx.saved_tensors
        grad = 2 * grad_out * diff.detach()
        return grad, -grad


pred = torch.randn(8, dtype=torch.double, requires_grad=True)
target = torch.randn(8, dtype=torch.double)
torch.autograd.gradcheck(SquaredError.apply, (pred, target))
torch.autograd.gradgradcheck(SquaredError.apply, (pred, target))  # expect: gradcheck-mismatch
