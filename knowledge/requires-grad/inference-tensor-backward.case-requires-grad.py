# Class prototypes are computed under inference_mode and then fine-tuned.
# expect-cause: weights-created-in-inference-mode
# expect-fix: prototypes = prototypes.clone().requires_grad_(True)
import torch
import torch.nn as nn

encoder = nn.Linear(16, 8)
support = torch.randn(5, 4, 16)
with torch.inference_mode():
    prototypes = encoder(support).mean(1)
prototypes.requires_grad_(True)  # expect: inference-tensor-backward
opt = torch.optim.Adam([prototypes], lr=1e-2)
