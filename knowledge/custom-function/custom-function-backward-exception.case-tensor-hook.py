# A gradient-normalising hook on the hidden activations: the per-row norm is missing
# keepdim=True, so it does not broadcast against the [batch, features] gradient.
# expect-cause: shape-error-in-backward
# expect-fix: return grad / (grad.norm(dim=1, keepdim=True) + 1e-6)
import torch
import torch.nn as nn

encoder, head = nn.Linear(4, 16), nn.Linear(16, 1)
x, y = torch.randn(8, 4), torch.randn(8, 1)


def normalise(grad):
    return grad / (grad.norm(dim=1) + 1e-6)  # expect: custom-function-backward-exception


hidden = torch.relu(encoder(x))
hidden.register_hook(normalise)
loss = nn.functional.mse_loss(head(hidden), y)
loss.backward()
