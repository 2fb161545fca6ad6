# Saving memory by checkpointing the whole encoder with the reentrant implementation: the
# encoder's input is raw data, so nothing is recorded and backward() finds no graph.
# expect-cause: reentrant-first-block
import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

torch.manual_seed(0)
encoder = nn.Sequential(nn.Linear(16, 32), nn.GELU(), nn.Linear(32, 1))
opt = torch.optim.AdamW(encoder.parameters(), lr=1e-3)
batch, target = torch.randn(8, 16), torch.randn(8, 1)

opt.zero_grad()
pred = checkpoint(encoder, batch, use_reentrant=True)
loss = nn.functional.mse_loss(pred, target)
loss.backward()  # expect: checkpoint-no-grad
opt.step()
