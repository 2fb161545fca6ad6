# A hand-written triplet loss: a positive identical to its anchor is at distance 0, where
# the derivative of sqrt is infinite.
# expect-cause: sqrt-at-zero
import torch
import torch.nn as nn

torch.manual_seed(0)
torch.autograd.set_detect_anomaly(True)  # switched on to find where the nan loss comes from
encoder = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 8))
optimizer = torch.optim.SGD(encoder.parameters(), lr=0.1)


def distance(a, b):
    return torch.sqrt(((a - b) ** 2).sum(dim=1))


def triplet_loss(anchor, positive, negative, margin=1.0):
    return torch.relu(distance(anchor, positive) - distance(anchor, negative) + margin).mean()


images = torch.randn(12, 16)
positives = images.clone()  # augmentation not written yet: half the positives equal their anchor
positives[6:] += 0.1 * torch.randn(6, 16)
negatives = images.roll(1, dims=0)

optimizer.zero_grad()
loss = triplet_loss(encoder(images), encoder(positives), encoder(negatives))
loss.backward()  # expect: anomaly-nan-backward
optimizer.step()
