# The first time step of a sequence output is kept as a constant target.
# expect-cause: detach-in-place-on-view
# expect-fix: target = target.detach()
import torch
import torch.nn as nn

rnn = nn.GRU(4, 8, batch_first=True)
out, _ = rnn(torch.randn(2, 5, 4))
target = out[:, 0]
target.detach_()  # expect: view-inplace
loss = (out[:, 1:] - target.unsqueeze(1)).pow(2).mean()
