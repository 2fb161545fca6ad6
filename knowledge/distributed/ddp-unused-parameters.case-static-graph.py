# static_graph=True promises DDP the same set of used parameters every iteration;
# deep supervision on the first step only breaks that promise.
# expect-cause: static-graph-changed
import os
import socket
from datetime import timedelta

import torch
import torch.distributed as dist
import torch.nn as nn
from torch.nn.parallel import DistributedDataParallel as DDP


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Linear(16, 32)
        self.refine = nn.Linear(32, 32)
        self.head = nn.Linear(32, 4)

    def forward(self, x, refine):
        x = torch.relu(self.stem(x))
        if refine:
            x = torch.relu(self.refine(x))
        return self.head(x)


def main():
    with socket.socket() as s:  # torchrun would set these; one process on a free port here
        s.bind(("127.0.0.1", 0))
        os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(s.getsockname()[1]))
    dist.init_process_group("gloo", rank=0, world_size=1, timeout=timedelta(seconds=30))
    model = DDP(Net(), static_graph=True)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    for step in range(4):
        inputs, targets = torch.randn(8, 16), torch.randint(0, 4, (8,))
        logits = model(inputs, refine=step % 2 == 0)  # expect: ddp-unused-parameters
        loss = nn.functional.cross_entropy(logits, targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
