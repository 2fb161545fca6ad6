# Inference prints the prediction with .item(), but the batch holds several samples.
# expect-cause: batch-values
# expect-fix: print("predicted price:", regressor(features).squeeze(1).tolist())
import torch
import torch.nn as nn

regressor = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 1))
regressor.eval()
features = torch.randn(3, 8)

with torch.no_grad():
    print("predicted price:", regressor(features).squeeze(1).item())  # expect: item-nonscalar
