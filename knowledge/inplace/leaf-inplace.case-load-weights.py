# Pretrained vectors are copied into an embedding inside __init__, outside torch.no_grad().
# expect-cause: weight-init-or-load
# expect-fix: with torch.no_grad(): self.emb.weight.copy_(vectors)
import torch
import torch.nn as nn


class Encoder(nn.Module):
    def __init__(self, vectors):
        super().__init__()
        self.emb = nn.Embedding(*vectors.shape)
        self.emb.weight.copy_(vectors)  # expect: leaf-inplace  # <- check
        self.rnn = nn.GRU(vectors.shape[1], 8)


vectors = torch.randn(100, 16)
encoder = Encoder(vectors)
print(torch.equal(encoder.emb.weight, vectors), encoder.emb.weight.is_leaf)
