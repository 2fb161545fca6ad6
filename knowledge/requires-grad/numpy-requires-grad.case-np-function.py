# Predictions are handed straight to a NumPy function to score the fit.
# expect-cause: numpy-function-on-tensor
# expect-fix: pred = np.asarray(model(inputs).squeeze(1).detach())
import numpy as np
import torch
import torch.nn as nn

model = nn.Linear(2, 1)
inputs = torch.randn(20, 2)
targets = inputs.sum(dim=1).numpy()


def r2_score(model):
    pred = np.asarray(model(inputs).squeeze(1))  # expect: numpy-requires-grad
    return 1 - ((pred - targets) ** 2).sum() / ((targets - targets.mean()) ** 2).sum()


print(r2_score(model))
