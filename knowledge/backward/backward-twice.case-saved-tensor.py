# Debugging code inspects what a node saved for backward, after backward() freed it.
# expect-cause: saved-tensor-access
import torch


def inspect_sigmoid(x):
    y = torch.sigmoid(x * 3)
    y.sum().backward()
    return y.grad_fn._saved_result  # expect: backward-twice


inspect_sigmoid(torch.randn(4, requires_grad=True))
