# With anomaly detection on, the message ends with the "Good luck!" hint.
# expect-cause: inplace-op-on-saved
import torch

torch.autograd.set_detect_anomaly(True)
weights = torch.linspace(-1.0, 1.0, 5).requires_grad_()


def softplus_energy(w):
    e = w.exp()
    e += 1  # <- cause  # <- check
    return e.log().sum()


energy = softplus_energy(weights)
energy.backward()  # expect: inplace-modified-saved
print(weights.grad)
