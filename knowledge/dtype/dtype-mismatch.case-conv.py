# Images normalised with NumPy (pixels / 255.0 gives float64) fed to a float32 CNN.
# expect-cause: numpy-float64
# expect-fix: x = self.features(x.float())
import numpy as np
import torch
import torch.nn as nn


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1))
        self.head = nn.Linear(8, 10)

    def forward(self, x):
        x = self.features(x)  # expect: dtype-mismatch
        return self.head(x.flatten(1))


pixels = np.random.default_rng(0).integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
batch = torch.from_numpy(pixels / 255.0).permute(0, 3, 1, 2)
loss = SmallCNN()(batch).logsumexp(dim=1).mean()
loss.backward()
