# Segmentation masks mark unlabelled pixels with 255, as VOC and Cityscapes do.
# expect-cause: ignore-label
import torch
import torch.nn as nn

torch.manual_seed(0)
net = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 4, 1))
images = torch.randn(2, 3, 8, 8)
masks = torch.randint(0, 4, (2, 8, 8))
masks[:, :2] = 255

criterion = nn.CrossEntropyLoss()
loss = criterion(net(images), masks)  # expect: ce-target-out-of-bounds
loss.backward()
