# Outputs of several forward passes are collected in a list and turned into one tensor.
# expect-cause: tensor-from-tensor-list
# expect-fix: ensemble = torch.stack(outputs)
import torch
import torch.nn as nn

models = [nn.Linear(4, 3) for _ in range(5)]
x = torch.randn(4)

with torch.no_grad():
    outputs = [m(x) for m in models]
    ensemble = torch.tensor(outputs)  # expect: item-nonscalar
    print(ensemble.mean(dim=0))
