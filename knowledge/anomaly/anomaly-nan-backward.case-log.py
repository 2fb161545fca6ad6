# Binary cross-entropy written by hand: on raw pixel values the sigmoid saturates to
# exactly 1.0, and log(1 - 1.0) = log(0).
# expect-cause: log-of-zero
import torch
import torch.nn as nn

torch.manual_seed(0)
torch.autograd.set_detect_anomaly(True)
classifier = nn.Linear(64, 1)
optimizer = torch.optim.Adam(classifier.parameters(), lr=1e-3)

pixels = torch.randint(0, 256, (32, 64)).float()  # not scaled to [0, 1]
labels = torch.randint(0, 2, (32, 1)).float()

probs = torch.sigmoid(classifier(pixels))
loss = -(labels * torch.log(probs) + (1 - labels) * torch.log(1 - probs)).mean()
optimizer.zero_grad()
loss.backward()  # expect: anomaly-nan-backward
optimizer.step()
