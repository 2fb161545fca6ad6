# New tokens are added to a pretrained embedding: their rows are picked inside no_grad,
# but initialised after the block.
# expect-cause: view-created-in-no-grad
# expect-fix: with torch.no_grad(): new_rows.copy_(mean_row.expand_as(new_rows))
import torch
import torch.nn as nn

old_vocab, added, dim = 1000, 4, 64
pretrained = nn.Embedding(old_vocab, dim)
emb = nn.Embedding(old_vocab + added, dim)
with torch.no_grad():
    emb.weight[:old_vocab] = pretrained.weight
    new_rows = emb.weight[old_vocab:]  # <- cause
    mean_row = pretrained.weight.mean(0)
new_rows.copy_(mean_row.expand_as(new_rows))  # expect: view-inplace  # <- cause

opt = torch.optim.Adam(emb.parameters(), lr=1e-3)
loss = emb(torch.tensor([[3, 1001, 1002]])).pow(2).mean()
loss.backward()
opt.step()
