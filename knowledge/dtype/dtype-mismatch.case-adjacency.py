# A graph convolution whose adjacency matrices are 0/1 integer tensors.
# expect-cause: integer-inputs
# expect-fix: agg = adj.float() @ h.float()
import torch
import torch.nn as nn


class GraphConv(nn.Module):
    def __init__(self, d_in, d_out):
        super().__init__()
        self.lin = nn.Linear(d_in, d_out)

    def forward(self, adj, h):
        agg = adj @ h  # expect: dtype-mismatch
        return torch.relu(self.lin(agg))


torch.manual_seed(0)
points = torch.rand(2, 6, 2)
adj = (torch.cdist(points, points) < 0.5).long()
layer = GraphConv(3, 8)
out = layer(adj, torch.randn(2, 6, 3))
out.sum().backward()
