# `and` between two masks asks the first mask for one truth value; element-wise logic
# needs `&`.
# expect-cause: logic-operator-on-tensors
# expect-fix: valid = (depth > 0) & (depth < 80.0)
import torch
import torch.nn as nn

torch.manual_seed(0)
net = nn.Conv2d(3, 1, 3, padding=1)
images = torch.rand(2, 3, 24, 24)
depth = torch.rand(2, 1, 24, 24) * 100  # lidar depth, 0 where there is no return

pred = net(images)
valid = (depth > 0) and (depth < 80.0)  # expect: bool-ambiguous
loss = (pred - depth)[valid].abs().mean()
loss.backward()
