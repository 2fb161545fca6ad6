# Weights created as plain tensors (even with requires_grad=True) are attributes, not
# parameters: only nn.Parameter (or a sub-module) is registered.
# expect-cause: plain-tensor-attributes
import torch
import torch.nn as nn


class LogisticRegression(nn.Module):
    def __init__(self, features):
        super().__init__()
        self.w = torch.zeros(features, 1, requires_grad=True)
        self.b = torch.zeros(1, requires_grad=True)

    def forward(self, x):
        return torch.sigmoid(x @ self.w + self.b)


model = LogisticRegression(features=12)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)  # expect: optimizer-empty-params
