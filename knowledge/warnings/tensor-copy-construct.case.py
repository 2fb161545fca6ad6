# A learnable temperature wrapped in torch.tensor(): the copy has no history, so the
# temperature never gets a gradient and never learns. Training runs without an error.
# expect-exit: 0
# expect-cause: graph-cut
# expect-fix: temperature = self.log_temperature.exp()
import torch
import torch.nn as nn
import torch.nn.functional as F


class PrototypeClassifier(nn.Module):
    def __init__(self, dim=16, classes=4):
        super().__init__()
        self.encoder = nn.Linear(dim, dim)
        self.prototypes = nn.Parameter(torch.randn(classes, dim))
        self.log_temperature = nn.Parameter(torch.zeros(()))

    def forward(self, x):
        features = F.normalize(self.encoder(x), dim=-1)
        prototypes = F.normalize(self.prototypes, dim=-1)
        temperature = torch.tensor(self.log_temperature.exp())  # expect: tensor-copy-construct
        return features @ prototypes.T / temperature


torch.manual_seed(0)
model = PrototypeClassifier()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
inputs, labels = torch.randn(32, 16), torch.randint(0, 4, (32,))
for step in range(5):
    optimizer.zero_grad()
    loss = F.cross_entropy(model(inputs), labels)
    loss.backward()
    optimizer.step()
print(f"loss {loss.item():.4f}, temperature gradient: {model.log_temperature.grad}")
