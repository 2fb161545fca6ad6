# A custom autograd Function made autocast-aware with the old torch.cuda.amp decorators.
# expect-exit: 0
# expect-cause: cuda-amp-api
# expect-fix: @torch.amp.custom_fwd(device_type="cuda", cast_inputs=torch.float32)
import torch


class ScaledSquare(torch.autograd.Function):
    @staticmethod
    @torch.cuda.amp.custom_fwd(cast_inputs=torch.float32)  # expect: amp-cuda-deprecated
    def forward(ctx, x, scale):
        ctx.save_for_backward(x)
        ctx.scale = scale
        return scale * x * x

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * 2 * ctx.scale * x, None


x = torch.randn(5, requires_grad=True)
ScaledSquare.apply(x, 3.0).sum().backward()
print(torch.allclose(x.grad, 6 * x.detach()))
