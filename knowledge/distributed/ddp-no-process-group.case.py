# A DDP training script started with `python train.py` instead of torchrun: nothing called
# init_process_group(), so DistributedDataParallel has no process group to use.
# expect-cause: not-launched-distributed
import os

import torch
import torch.nn as nn
from torch.nn.parallel import DistributedDataParallel as DDP


def main():
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))
    model = DDP(model, device_ids=[local_rank] if torch.cuda.is_available() else None)  # expect: ddp-no-process-group
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    loss = nn.functional.cross_entropy(model(torch.randn(8, 16)), torch.randint(0, 4, (8,)))
    loss.backward()
    optimizer.step()


if __name__ == "__main__":
    main()
