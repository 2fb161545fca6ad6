# A fused affine op that saves two tensors but unpacks three in backward.
# expect-cause: saved-tensors-mismatch
import torch


class Affine(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias):
        ctx.save_for_backward(x, weight)
        return x * weight + bias

    @staticmethod
    def backward(ctx, grad_out):
        x, weight, bias = ctx.saved_tensors  # expect: custom-function-backward-exception
        return grad_out * weight, (grad_out * x).sum(0), grad_out.sum(0)


x = torch.randn(10, 3, requires_grad=True)
weight = torch.randn(3, requires_grad=True)
bias = torch.zeros(3, requires_grad=True)
Affine.apply(x, weight, bias).sum().backward()
