# A function with two outputs: backward returns one value per output, not per input.
# expect-cause: one-gradient-per-output
import torch


class SignAndAbs(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.clamp(-1, 1), x.abs()

    @staticmethod
    def backward(ctx, grad_clamped, grad_abs):
        x, = ctx.saved_tensors
        return grad_clamped * (x.abs() <= 1), grad_abs * x.sign()


x = torch.randn(10, requires_grad=True)
clamped, magnitude = SignAndAbs.apply(x)
(clamped.sum() + magnitude.sum()).backward()  # expect: custom-function-grad-count
