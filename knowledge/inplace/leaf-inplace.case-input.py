# A helper written to normalise data in place is reused on a tensor we differentiate.
# expect-cause: inplace-on-input
# expect-fix: v = v - v.mean()
import torch


def standardize(v):
    v -= v.mean()  # expect: leaf-inplace  # <- check
    return v / v.std()


signal = torch.randn(50, requires_grad=True)
energy = standardize(signal).pow(2).sum()
energy.backward()
