# Embeddings normalised by hand: a ReLU output that is all zeros has norm 0, and the
# gradient of z / 0 is 0 / 0 wherever the incoming gradient is zero.
# expect-cause: division-by-zero
import torch
import torch.nn as nn

torch.manual_seed(0)
torch.autograd.set_detect_anomaly(True)
projector = nn.Sequential(nn.Linear(10, 6), nn.ReLU())
with torch.no_grad():
    projector[0].bias.fill_(-3.0)  # a badly initialised bias: many rows come out all zero
prototypes = torch.eye(4, 6)  # one fixed unit vector per class
features, labels = torch.randn(16, 10), torch.randint(0, 4, (16,))

z = projector(features)
z = z / z.norm(dim=1, keepdim=True)
loss = -(z * prototypes[labels]).sum(dim=1).mean()  # cosine similarity to the class prototype
loss.backward()  # expect: anomaly-nan-backward
