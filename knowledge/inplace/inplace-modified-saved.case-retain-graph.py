# retain_graph=True was added to silence "backward through the graph a second time";
# the optimizer then changes the weights that the old graph still needs.
# expect-cause: optimizer-step-between
import torch
import torch.nn as nn

rnn = nn.GRU(input_size=3, hidden_size=6)
optimizer = torch.optim.SGD(rnn.parameters(), lr=0.05)
h = torch.zeros(1, 2, 6)

for step in range(3):
    seq = torch.randn(4, 2, 3)
    out, h = rnn(seq, h)
    loss = out.pow(2).mean()
    optimizer.zero_grad()
    loss.backward(retain_graph=True)  # expect: inplace-modified-saved
    optimizer.step()
