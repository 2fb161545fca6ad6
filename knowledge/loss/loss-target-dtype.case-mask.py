# Segmentation masks loaded with a channel dimension (N, 1, H, W).
# expect-cause: target-extra-dimension
# expect-fix: loss = criterion(logits, masks.squeeze(1))
import torch
import torch.nn as nn

torch.manual_seed(0)
net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 4, 1))
images = torch.randn(2, 3, 16, 16)
masks = torch.randint(0, 4, (2, 16, 16)).unsqueeze(1)

criterion = nn.CrossEntropyLoss()
logits = net(images)
loss = criterion(logits, masks)  # expect: loss-target-dtype
loss.backward()
