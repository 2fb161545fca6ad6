# A multi-task model with one head per task; each batch uses one head, so the other heads'
# parameters get no gradient in that iteration.
# expect-cause: conditional-branch
import os
import socket
from datetime import timedelta

import torch
import torch.distributed as dist
import torch.nn as nn
from torch.nn.parallel import DistributedDataParallel as DDP


class MultiTaskNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.shared = nn.Sequential(nn.Linear(16, 32), nn.ReLU())
        self.heads = nn.ModuleDict({"sentiment": nn.Linear(32, 2), "topic": nn.Linear(32, 5)})

    def forward(self, x, task):
        return self.heads[task](self.shared(x))


def main():
    with socket.socket() as s:  # torchrun would set these; one process on a free port here
        s.bind(("127.0.0.1", 0))
        os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(s.getsockname()[1]))
    dist.init_process_group("gloo", rank=0, world_size=1, timeout=timedelta(seconds=30))
    model = DDP(MultiTaskNet())
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    batches = [("sentiment", 2), ("topic", 5), ("sentiment", 2)]
    for task, classes in batches:
        inputs, targets = torch.randn(8, 16), torch.randint(0, classes, (8,))
        logits = model(inputs, task=task)  # expect: ddp-unused-parameters
        loss = nn.functional.cross_entropy(logits, targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
