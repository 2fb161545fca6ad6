# A scaled residual whose backward reads ctx.alpha, which forward never set.
# expect-cause: forward-state-not-saved
import torch


class ScaledResidual(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, branch, alpha):
        ctx.save_for_backward(branch)
        return x + alpha * branch

    @staticmethod
    def backward(ctx, grad_out):
        return grad_out, ctx.alpha * grad_out, None  # expect: custom-function-backward-exception


x = torch.randn(4, 8, requires_grad=True)
branch = torch.tanh(torch.randn(4, 8, requires_grad=True))
ScaledResidual.apply(x, branch, 0.5).pow(2).mean().backward()
