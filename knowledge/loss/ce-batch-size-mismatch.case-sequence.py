# A small language model: logits flattened to one row per token, targets left per sequence.
# expect-cause: sequence-flattened-on-one-side
# expect-fix: loss = criterion(logits.view(-1, vocab_size), targets.reshape(-1))
import torch
import torch.nn as nn

torch.manual_seed(0)
vocab_size = 40
embed = nn.Embedding(vocab_size, 16)
rnn = nn.LSTM(16, 32, batch_first=True)
head = nn.Linear(32, vocab_size)
criterion = nn.CrossEntropyLoss()

tokens = torch.randint(0, vocab_size, (4, 9))
inputs, targets = tokens[:, :-1], tokens[:, 1:]
hidden, _ = rnn(embed(inputs))
logits = head(hidden)
loss = criterion(logits.view(-1, vocab_size), targets)  # expect: ce-batch-size-mismatch
loss.backward()
