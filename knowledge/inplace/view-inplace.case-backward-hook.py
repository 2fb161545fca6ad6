# Grad-CAM: a full backward hook on the last conv layer records its gradient, and the
# ReLU that follows that layer works in place.
# expect-cause: hooked-module-then-inplace-layer
import torch
import torch.nn as nn


class SmallCNN(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.relu = nn.ReLU(inplace=True)
        self.head = nn.Linear(32, num_classes)

    def forward(self, x):
        x = self.relu(self.conv1(x))
        x = self.relu(self.conv2(x))  # expect: view-inplace
        return self.head(x.mean(dim=(2, 3)))


model = SmallCNN().eval()
saved = {}
model.conv2.register_forward_hook(lambda m, inp, out: saved.update(activation=out))
model.conv2.register_full_backward_hook(lambda m, gin, gout: saved.update(gradient=gout[0]))

images = torch.randn(2, 3, 32, 32)
scores = model(images)
scores[:, 3].sum().backward()
weights = saved["gradient"].mean(dim=(2, 3), keepdim=True)
cam = (weights * saved["activation"]).sum(dim=1).relu()
