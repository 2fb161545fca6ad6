# Per-sample gradients with vmap(grad(...)): each sample is batched as [1, 4], so the
# model's prediction, and the squared error computed from it, keep a [1, 1] shape.
# expect-cause: one-element-not-scalar
import torch
import torch.nn as nn
from torch.func import functional_call, grad, vmap

model = nn.Linear(4, 1)
params = {name: p.detach() for name, p in model.named_parameters()}


def sample_loss(params, sample, target):
    pred = functional_call(model, params, (sample.unsqueeze(0),))
    return (pred - target) ** 2


samples, targets = torch.randn(16, 4), torch.randn(16)
per_sample_grads = vmap(grad(sample_loss), in_dims=(None, 0, 0))(params, samples, targets)  # expect: functorch-grad-nonscalar
