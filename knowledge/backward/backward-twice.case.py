# An LSTM's hidden state is carried from batch to batch without being detached.
# expect-cause: carried-state
import torch
import torch.nn as nn

torch.manual_seed(0)
lstm = nn.LSTM(input_size=4, hidden_size=8, batch_first=True)
head = nn.Linear(8, 1)
state = None

for step in range(3):
    chunk, target = torch.randn(2, 5, 4), torch.randn(2, 5, 1)
    out, state = lstm(chunk, state)  # <- cause
    loss = nn.functional.mse_loss(head(out), target)
    lstm.zero_grad()
    head.zero_grad()
    loss.backward()  # expect: backward-twice  # <- check
    print(round(loss.item(), 4))
