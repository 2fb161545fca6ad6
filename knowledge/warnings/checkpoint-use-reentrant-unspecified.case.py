# Activation checkpointing of a deep stack of blocks, without saying which implementation.
# expect-exit: 0
# expect-cause: explicit-call
# expect-fix: hidden = checkpoint_sequential(self.blocks, 2, hidden, use_reentrant=False)
# expect-fix: hidden = checkpoint_sequential(self.blocks, 2, hidden, use_reentrant=True)
import torch
import torch.nn as nn
from torch.utils.checkpoint import checkpoint_sequential


class DeepMLP(nn.Module):
    def __init__(self, width=32, depth=8):
        super().__init__()
        self.stem = nn.Linear(16, width)
        self.blocks = nn.Sequential(*[nn.Sequential(nn.Linear(width, width), nn.GELU())
                                      for _ in range(depth)])
        self.head = nn.Linear(width, 1)

    def forward(self, x):
        hidden = self.stem(x)
        hidden = checkpoint_sequential(self.blocks, 2, hidden)  # expect: checkpoint-use-reentrant-unspecified
        return self.head(hidden)


torch.manual_seed(0)
model = DeepMLP()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
inputs, targets = torch.randn(16, 16), torch.randn(16, 1)
for step in range(3):
    optimizer.zero_grad()
    loss = nn.functional.mse_loss(model(inputs), targets)
    loss.backward()
    optimizer.step()
print(f"loss {loss.item():.4f}")
