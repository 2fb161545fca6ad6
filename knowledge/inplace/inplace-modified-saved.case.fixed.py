# An in-place ReLU after a sigmoid overwrites the output that sigmoid saved for backward.
# expect-cause: inplace-op-on-saved
import torch
import torch.nn as nn


class Gate(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.act = nn.ReLU(inplace=False)  # <- cause

    def forward(self, x):
        gate = torch.sigmoid(self.fc(x))
        return self.act(gate)  # <- check


torch.manual_seed(0)
model = Gate()
loss = model(torch.randn(2, 4)).sum()
loss.backward()  # expect: inplace-modified-saved
print(model.fc.weight.grad.sum().round(decimals=4))
