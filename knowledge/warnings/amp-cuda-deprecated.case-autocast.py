# Mixed-precision inference with the old torch.cuda.amp.autocast context manager.
# expect-exit: 0
# expect-cause: cuda-amp-api
# expect-fix: with torch.autocast("cuda", enabled=use_amp):
import torch
import torch.nn as nn

use_amp = torch.cuda.is_available()
device = "cuda" if use_amp else "cpu"
torch.manual_seed(0)
model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 3)).to(device).eval()
batch = torch.randn(4, 16, device=device)

with torch.no_grad():
    with torch.cuda.amp.autocast(enabled=use_amp):  # expect: amp-cuda-deprecated
        predictions = model(batch).argmax(dim=-1)
print(predictions.tolist())
