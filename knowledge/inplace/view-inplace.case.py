# The padding row of an embedding is zeroed right after the layer is built.
# expect-cause: leaf-slice-assignment
# expect-fix: with torch.no_grad(): emb.weight[pad_idx].fill_(0)
import torch
import torch.nn as nn

vocab_size, dim, pad_idx = 100, 16, 0
emb = nn.Embedding(vocab_size, dim)  # <- cause
emb.weight[pad_idx].fill_(0)  # expect: view-inplace  # <- cause
tokens = torch.tensor([[5, 7, 0, 0]])
print(emb(tokens).sum())
