# `hidden or ...` asks the hidden state tensor for one truth value; it works on the first
# call (hidden is None) and fails once a real hidden state is passed back in.
# expect-cause: truthiness-check
# expect-fix: hidden = hidden if hidden is not None else self.init_hidden(x.size(0))
import torch
import torch.nn as nn


class CharRNN(nn.Module):
    def __init__(self, vocab, dim):
        super().__init__()
        self.dim = dim
        self.embed = nn.Embedding(vocab, dim)
        self.cell = nn.GRUCell(dim, dim)
        self.out = nn.Linear(dim, vocab)

    def init_hidden(self, batch):
        return torch.zeros(batch, self.dim)

    def forward(self, x, hidden=None):
        hidden = hidden or self.init_hidden(x.size(0))  # expect: bool-ambiguous
        hidden = self.cell(self.embed(x), hidden)
        return self.out(hidden), hidden


model = CharRNN(vocab=30, dim=16)
text = torch.randint(0, 30, (4, 12))
hidden = None
for t in range(text.size(1) - 1):
    logits, hidden = model(text[:, t], hidden)
