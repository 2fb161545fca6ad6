# An input-gradient (saliency) map: the input goes through a NumPy augmentation first,
# so the model sees a fresh copy and the gradient w.r.t. the original input is unreachable.
# expect-cause: cut-before-use
import numpy as np
import torch
import torch.nn as nn

model = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 2))


def jitter(batch):
    arr = batch.detach().numpy()
    return torch.from_numpy(arr + 0.01 * np.random.randn(*arr.shape).astype(np.float32))


images = torch.randn(4, 3, requires_grad=True)
scores = model(jitter(images))[:, 1]
saliency, = torch.autograd.grad(scores.sum(), images)  # expect: unused-input-autograd-grad
