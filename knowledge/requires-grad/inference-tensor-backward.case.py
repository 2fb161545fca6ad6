# Features are precomputed once under inference_mode and then used to train a probe.
# expect-cause: inference-output-used-in-training
import torch
import torch.nn as nn

backbone = nn.Sequential(nn.Linear(20, 32), nn.ReLU())
probe = nn.Linear(32, 3)
opt = torch.optim.SGD(probe.parameters(), lr=0.1)

with torch.inference_mode():
    features = backbone(torch.randn(64, 20))
labels = torch.randint(0, 3, (64,))

for step in range(3):
    logits = probe(features)  # expect: inference-tensor-backward
    loss = nn.functional.cross_entropy(logits, labels)
    opt.zero_grad()
    loss.backward()
    opt.step()
