# A gradient monitor hooks every Linear layer; a residual block adds its input to the
# output of a hooked layer in place.
# expect-cause: hooked-module-output-updated
# expect-fix: h = h + x
import torch
import torch.nn as nn
import torch.nn.functional as F


class ResidualMLP(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, 4 * dim)
        self.fc2 = nn.Linear(4 * dim, dim)

    def forward(self, x):
        h = self.fc2(F.gelu(self.fc1(self.norm(x))))
        h += x  # expect: view-inplace
        return h


model = nn.Sequential(ResidualMLP(32), ResidualMLP(32), nn.Linear(32, 1))
grad_norms = {}
for name, module in model.named_modules():
    if isinstance(module, nn.Linear):
        module.register_full_backward_hook(
            lambda m, gin, gout, name=name: grad_norms.__setitem__(name, gout[0].norm().item()))

opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
x, y = torch.randn(16, 32), torch.randn(16, 1)
loss = nn.functional.mse_loss(model(x), y)
loss.backward()
opt.step()
