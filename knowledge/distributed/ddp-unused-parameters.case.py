# A layer defined in __init__ but never used in forward(): DDP waits for its gradient,
# and the next iteration's forward finds the previous reduction unfinished.
# expect-cause: unused-module
import os
import socket
from datetime import timedelta

import torch
import torch.distributed as dist
import torch.nn as nn
from torch.nn.parallel import DistributedDataParallel as DDP


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(16, 32), nn.ReLU())
        self.dropout = nn.Dropout(0.1)
        self.projection = nn.Linear(32, 32)  # left over from an experiment
        self.head = nn.Linear(32, 4)

    def forward(self, x):
        return self.head(self.dropout(self.encoder(x)))


def main():
    with socket.socket() as s:  # torchrun would set these; one process on a free port here
        s.bind(("127.0.0.1", 0))
        os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(s.getsockname()[1]))
    dist.init_process_group("gloo", rank=0, world_size=1, timeout=timedelta(seconds=30))
    model = DDP(Classifier())
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    for step in range(3):
        inputs, targets = torch.randn(8, 16), torch.randint(0, 4, (8,))
        logits = model(inputs)  # expect: ddp-unused-parameters
        loss = nn.functional.cross_entropy(logits, targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
