# Fitting the shape parameter of a Gamma distribution through its CDF:
# autograd has no formula for the regularized incomplete gamma w.r.t. its first argument.
# expect-cause: no-formula-for-argument
import torch

log_shape = torch.zeros(1, requires_grad=True)
durations = torch.rand(64) * 5
opt = torch.optim.Adam([log_shape], lr=0.05)

cdf = torch.special.gammainc(log_shape.exp(), durations)
loss = (cdf - torch.linspace(0, 1, 64)).pow(2).mean()
loss.backward()  # expect: derivative-not-implemented
