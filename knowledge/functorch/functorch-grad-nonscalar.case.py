# A functional training step with torch.func: the loss keeps one value per sample.
# expect-cause: unreduced-loss
import torch
import torch.nn as nn
from torch.func import functional_call, grad_and_value

model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 1))
params = {name: p.detach() for name, p in model.named_parameters()}
inputs, targets = torch.randn(32, 4), torch.randn(32, 1)


def compute_loss(params, x, y):
    pred = functional_call(model, params, (x,))
    return nn.functional.mse_loss(pred, y, reduction="none")


grads, loss = grad_and_value(compute_loss)(params, inputs, targets)  # expect: functorch-grad-nonscalar
params = {name: p - 0.1 * grads[name] for name, p in params.items()}
