"""Truncated backpropagation through time: the hidden state is detached each batch."""
import torch
from torch import nn

rnn = nn.LSTM(8, 16, batch_first=True)
head = nn.Linear(16, 1)
optimizer = torch.optim.Adam(list(rnn.parameters()) + list(head.parameters()))
hidden = None

for batch in range(10):
    x = torch.randn(4, 5, 8)
    target = torch.randn(4, 5, 1)
    if hidden is not None:
        hidden = tuple(h.detach() for h in hidden)
    out, hidden = rnn(x, hidden)
    loss = nn.functional.mse_loss(head(out), target)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()

state = torch.zeros(4, 16)
cell = nn.GRUCell(8, 16)
for step in range(10):
    state = cell(torch.randn(4, 8), state.detach())
    step_loss = state.pow(2).mean()
    step_loss.backward()
