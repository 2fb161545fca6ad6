# A residual block adds the shortcut in place to a ReLU output that ReLU saved for backward.
# expect-cause: residual-inplace-add
import torch
import torch.nn as nn


class Block(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.fc = nn.Linear(width, width)

    def forward(self, x):
        identity = x
        out = torch.relu(self.fc(x))
        out += identity  # <- check
        return out


torch.manual_seed(0)
net = nn.Sequential(nn.Linear(3, 8), Block(8), nn.Linear(8, 1))
loss = net(torch.randn(5, 3)).pow(2).mean()
loss.backward()  # expect: inplace-modified-saved
print([round(p.grad.norm().item(), 4) for p in net.parameters()])
