# Gradient clipping by hand over every parameter: one layer was not used in this forward
# pass, so its .grad is None (no warning: it is a leaf that simply got no gradient).
# expect-cause: grad-not-populated
import torch
from torch import nn


class TwoHeads(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Linear(4, 4)
        self.aux_head = nn.Linear(4, 2)  # only used when training with the auxiliary loss
        self.head = nn.Linear(4, 1)

    def forward(self, x):
        return self.head(torch.relu(self.body(x)))


model = TwoHeads()
loss = model(torch.randn(8, 4)).pow(2).mean()
loss.backward()
for p in model.parameters():
    p.grad.mul_(0.5)  # expect: nonleaf-grad-access
