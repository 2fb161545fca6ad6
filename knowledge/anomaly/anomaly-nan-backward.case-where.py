# Relative depth error: torch.where hides the division by a missing (zero) depth in the
# forward pass, but the backward pass still computes 0 / 0 there.
# expect-cause: masked-unsafe-op
import torch
import torch.nn as nn

torch.manual_seed(0)
head = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 1, 1), nn.Softplus())
images = torch.randn(2, 3, 16, 16)
depth = torch.rand(2, 1, 16, 16) * 10
depth[:, :, :4] = 0.0  # no sensor reading on these rows
valid = depth > 0

with torch.autograd.detect_anomaly():
    pred = head(images)
    abs_rel = torch.where(valid, (pred - depth).abs() / depth, 0.0)
    loss = abs_rel.sum() / valid.sum()
    loss.backward()  # expect: anomaly-nan-backward
