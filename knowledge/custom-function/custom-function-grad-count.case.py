# A fused scale-multiply op: forward also takes a float scale, backward returns two gradients.
# expect-cause: missing-none-for-non-tensor-args
import torch


class ScaledMul(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, w, scale):
        ctx.save_for_backward(x, w)
        ctx.scale = scale
        return x * w * scale

    @staticmethod
    def backward(ctx, grad_out):
        x, w = ctx.saved_tensors
        return grad_out * w * ctx.scale, grad_out * x * ctx.scale


x = torch.randn(16, requires_grad=True)
w = torch.randn(16, requires_grad=True)
loss = ScaledMul.apply(x, w, 0.5).square().mean()
loss.backward()  # expect: custom-function-grad-count
