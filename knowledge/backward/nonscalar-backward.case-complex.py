# A complex-valued scalar has no implicit gradient either.
# expect-cause: complex-loss
# expect-fix: energy.real.backward()
import torch

z = torch.randn(3, dtype=torch.complex64, requires_grad=True)
energy = (z * z).sum()
energy.backward()  # expect: nonscalar-backward
