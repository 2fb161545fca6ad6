# An evaluation helper decorated with @torch.no_grad() is reused to build the training loss.
# expect-cause: no-grad-context
import torch
import torch.nn as nn

model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
criterion = nn.MSELoss()


@torch.no_grad()  # <- cause
def predict(batch):
    return model(batch)  # <- cause


for step in range(3):
    x, y = torch.randn(16, 4), torch.randn(16, 1)
    loss = criterion(predict(x), y)
    model.zero_grad()
    loss.backward()  # expect: no-grad-fn  # <- check
