# Logging gradient norms with full backward hooks on every layer: the first layer's
# input does not require grad, so its grad_input holds None.
# expect-cause: none-gradient
import torch
import torch.nn as nn

model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 1))
grad_norms = {}


def log_grad_norm(module, grad_input, grad_output):
    grad_norms[module] = grad_input[0].norm().item()  # expect: custom-function-backward-exception


for layer in model:
    layer.register_full_backward_hook(log_grad_norm)

x, y = torch.randn(8, 4), torch.randn(8, 1)
nn.functional.mse_loss(model(x), y).backward()
