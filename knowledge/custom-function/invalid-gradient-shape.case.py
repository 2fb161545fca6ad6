# A custom row-sum whose backward forgets to broadcast the gradient back to the input.
# expect-cause: output-shape-returned
import torch


class RowSum(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x.sum(dim=1)

    @staticmethod
    def backward(ctx, grad_out):
        return grad_out


x = torch.randn(4, 3, requires_grad=True)
RowSum.apply(x).pow(2).mean().backward()  # expect: invalid-gradient-shape
