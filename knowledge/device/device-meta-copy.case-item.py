# Logging a weight statistic of a model created on the meta device: a meta tensor has a
# shape but no values to read.
# expect-cause: copied-from-meta
import torch
import torch.nn as nn

with torch.device("meta"):
    model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))

for name, param in model.named_parameters():
    print(f"{name}: norm {param.norm().item():.3f}")  # expect: device-meta-copy
