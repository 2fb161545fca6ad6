# A new-style Function with static methods, but called through an instance.
# expect-cause: instance-call
# expect-fix: out = ClampedExp.apply(x)
import torch


class ClampedExp(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        out = x.clamp(max=10).exp()
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad_out):
        out, = ctx.saved_tensors
        return grad_out * out


x = torch.randn(16, requires_grad=True)
out = ClampedExp()(x)  # expect: custom-function-legacy
out.sum().backward()
