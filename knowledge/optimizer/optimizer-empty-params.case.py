# The blocks are kept in a plain Python list, so nn.Module never registers them and
# model.parameters() yields nothing.
# expect-cause: plain-container-of-modules
import torch
import torch.nn as nn


class MLP(nn.Module):
    def __init__(self, dims):
        super().__init__()
        self.layers = [nn.Linear(a, b) for a, b in zip(dims, dims[1:])]

    def forward(self, x):
        for layer in self.layers[:-1]:
            x = torch.relu(layer(x))
        return self.layers[-1](x)


model = MLP([16, 64, 64, 1])
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)  # expect: optimizer-empty-params
