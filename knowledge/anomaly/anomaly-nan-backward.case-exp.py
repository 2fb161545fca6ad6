# InfoNCE written with exp(): with a small temperature, exp(similarity / t) of a matching
# pair overflows to inf, and inf / inf = nan before log() ever sees it.
# expect-cause: exp-overflow
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
torch.autograd.set_detect_anomaly(True)
encoder = nn.Linear(32, 16)
views_a = torch.randn(8, 32)
views_b = views_a + 0.05 * torch.randn(8, 32)  # two augmentations of the same samples
temperature = 0.01

za = F.normalize(encoder(views_a), dim=1)
zb = F.normalize(encoder(views_b), dim=1)
scores = torch.exp(za @ zb.T / temperature)
loss = -torch.log(scores.diag() / scores.sum(dim=1)).mean()
loss.backward()  # expect: anomaly-nan-backward
