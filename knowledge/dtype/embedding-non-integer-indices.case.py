# Sentences padded into a NumPy array made with np.zeros, which is float64.
# expect-cause: float-token-ids
# expect-fix: x = self.embed(tokens.long())
import numpy as np
import torch
import torch.nn as nn

vocab = {"<pad>": 0, "the": 1, "cat": 2, "sat": 3, "on": 4, "mat": 5}
sentences = [["the", "cat", "sat"], ["the", "cat", "sat", "on", "the", "mat"]]
max_len = max(len(s) for s in sentences)
padded = np.zeros((len(sentences), max_len))
for i, sentence in enumerate(sentences):
    padded[i, : len(sentence)] = [vocab[w] for w in sentence]


class BagOfEmbeddings(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(len(vocab), 8, padding_idx=0)
        self.out = nn.Linear(8, 2)

    def forward(self, tokens):
        x = self.embed(tokens)  # expect: embedding-non-integer-indices
        return self.out(x.mean(dim=1))


logits = BagOfEmbeddings()(torch.from_numpy(padded))
logits.sum().backward()
