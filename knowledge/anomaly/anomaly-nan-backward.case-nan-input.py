# A missing value in the training data: the prediction for that row is nan, and the
# loss's backward (here MseLossBackward0) is the first to return it.
# expect-cause: nan-in-forward
import torch
import torch.nn as nn

torch.manual_seed(0)
torch.autograd.set_detect_anomaly(True)
model = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 1))
criterion = nn.MSELoss()
optimizer = torch.optim.SGD(model.parameters(), lr=0.01)

features = torch.randn(64, 6)
features[17, 3] = float("nan")  # an empty cell in the CSV
targets = torch.randn(64, 1)

for start in range(0, 64, 16):
    optimizer.zero_grad()
    loss = criterion(model(features[start:start + 16]), targets[start:start + 16])
    loss.backward()  # expect: anomaly-nan-backward
    optimizer.step()
