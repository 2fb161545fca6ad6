# The encoder runs under autocast (bfloat16); the projection after the block is float32.
# expect-cause: autocast-leak
# expect-fix: z = h.float() @ proj.float()
import torch
import torch.nn as nn

torch.manual_seed(0)
encoder = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 32))
proj = nn.Parameter(torch.randn(32, 8))
x = torch.randn(4, 16)

with torch.autocast("cpu", dtype=torch.bfloat16):
    h = encoder(x)
z = h @ proj  # expect: dtype-mismatch
z.pow(2).mean().backward()
