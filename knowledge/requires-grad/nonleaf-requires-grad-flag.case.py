# Features from a pretrained backbone are meant to be fixed while only the head trains.
# expect-cause: freeze-activation
# expect-fix: features = features.detach()
import torch
import torch.nn as nn

backbone = nn.Sequential(nn.Linear(16, 32), nn.ReLU())
head = nn.Linear(32, 3)
x = torch.randn(8, 16)
features = backbone(x)
features.requires_grad = False  # expect: nonleaf-requires-grad-flag
loss = head(features).logsumexp(dim=1).mean()
loss.backward()
