# Only the stem is checkpointed; the head still trains, so the run succeeds, but the stem's
# parameters never get a gradient: the warning is the only sign.
# expect-exit: 0
# expect-cause: reentrant-first-block
# expect-fix: features = checkpoint(stem, images, use_reentrant=False)
import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

torch.manual_seed(0)
stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
head = nn.Linear(8, 10)
images, labels = torch.randn(4, 3, 16, 16), torch.tensor([1, 0, 3, 9])

features = checkpoint(stem, images, use_reentrant=True)  # expect: checkpoint-no-grad
loss = nn.functional.cross_entropy(head(features), labels)
loss.backward()
print("stem got a gradient:", stem[0].weight.grad is not None)
