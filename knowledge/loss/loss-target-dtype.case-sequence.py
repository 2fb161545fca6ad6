# A token tagger: logits come out (batch, seq_len, num_tags), classes last.
# expect-cause: classes-not-on-dim-1
# expect-fix: loss = criterion(logits.transpose(1, 2), tags)
# expect-fix: loss = criterion(logits.reshape(-1, logits.size(-1)), tags.reshape(-1))
import torch
import torch.nn as nn

torch.manual_seed(0)
num_tags, vocab = 5, 50
embed = nn.Embedding(vocab, 16)
encoder = nn.GRU(16, 32, batch_first=True)
classifier = nn.Linear(32, num_tags)
criterion = nn.CrossEntropyLoss()

tokens = torch.randint(0, vocab, (3, 7))
tags = torch.randint(0, num_tags, (3, 7))
hidden, _ = encoder(embed(tokens))
logits = classifier(hidden)
loss = criterion(logits, tags)  # expect: loss-target-dtype
loss.backward()
