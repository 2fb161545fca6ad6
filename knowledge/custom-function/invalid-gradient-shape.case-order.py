# A hand-written linear layer whose backward returns the weight gradient first.
# expect-cause: gradients-out-of-order
import torch


class MyLinear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight):
        ctx.save_for_backward(x, weight)
        return x @ weight.t()

    @staticmethod
    def backward(ctx, grad_out):
        x, weight = ctx.saved_tensors
        return grad_out.t() @ x, grad_out @ weight


x = torch.randn(8, 4, requires_grad=True)
weight = torch.randn(3, 4, requires_grad=True)
loss = MyLinear.apply(x, weight).relu().sum()
loss.backward()  # expect: invalid-gradient-shape
