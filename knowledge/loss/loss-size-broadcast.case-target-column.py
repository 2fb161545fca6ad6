# Targets read as a column ([N, 1]) from a table, predictions already flat ([N]).
# expect-exit: 0
# expect-cause: target-has-trailing-one
# expect-fix: loss = F.smooth_l1_loss(pred, target.squeeze(-1))
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

rng = np.random.default_rng(0)
table = rng.normal(size=(50, 4)).astype("float32")
inputs = torch.from_numpy(table[:, :3])
target = torch.from_numpy(table[:, 3:4])  # column slice keeps the trailing 1
model = nn.Linear(3, 1)

pred = model(inputs).squeeze(-1)
loss = F.smooth_l1_loss(pred, target)  # expect: loss-size-broadcast
loss.backward()
