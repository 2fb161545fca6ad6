# Activation checkpointing with the reentrant implementation inside a DDP model created with
# find_unused_parameters=True: DDP does not see the checkpointed layers in the graph, marks
# their parameters unused (ready), and then their gradients arrive during backward.
# expect-cause: reentrant-checkpoint
import os
import socket
from datetime import timedelta

import torch
import torch.distributed as dist
import torch.nn as nn
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.checkpoint import checkpoint


class Encoder(nn.Module):
    def __init__(self, dim=32, depth=3):
        super().__init__()
        self.embed = nn.Linear(16, dim)
        self.layers = nn.ModuleList(
            nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, dim), nn.GELU()) for _ in range(depth))
        self.head = nn.Linear(dim, 4)

    def forward(self, x):
        x = self.embed(x)
        for layer in self.layers:
            x = x + checkpoint(layer, x, use_reentrant=True)
        return self.head(x)


def main():
    with socket.socket() as s:  # torchrun would set these; one process on a free port here
        s.bind(("127.0.0.1", 0))
        os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(s.getsockname()[1]))
    dist.init_process_group("gloo", rank=0, world_size=1, timeout=timedelta(seconds=30))
    model = DDP(Encoder(), find_unused_parameters=True)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    inputs, targets = torch.randn(8, 16), torch.randint(0, 4, (8,))
    loss = nn.functional.cross_entropy(model(inputs), targets)
    loss.backward()  # expect: ddp-mark-ready-twice
    optimizer.step()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
