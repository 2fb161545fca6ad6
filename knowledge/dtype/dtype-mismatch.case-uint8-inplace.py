# Images decoded as uint8 are scaled to [0, 1] in place.
# expect-cause: in-place-on-integer
# expect-fix: images = images.float() / 255.0
import torch
import torch.nn as nn

torch.manual_seed(0)
images = torch.randint(0, 256, (4, 3, 16, 16), dtype=torch.uint8)
images /= 255.0  # expect: dtype-mismatch
net = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 2))
net(images).sum().backward()
