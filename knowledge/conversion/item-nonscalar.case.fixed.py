# A validation loop logs a loss that was built with reduction='none' (kept for per-sample analysis).
# expect-cause: unreduced-loss
# expect-fix: total += criterion(model(x), y).mean().item()
import torch

torch.manual_seed(0)
import torch.nn as nn

model = nn.Linear(6, 1)
criterion = nn.SmoothL1Loss(reduction="none")
val_batches = [(torch.randn(4, 6), torch.randn(4, 1)) for _ in range(3)]


@torch.no_grad()
def evaluate():
    total = 0.0
    for x, y in val_batches:
        total += criterion(model(x), y).mean().item()  # expect: item-nonscalar
    return total / len(val_batches)


print(f"val loss {evaluate():.4f}")
