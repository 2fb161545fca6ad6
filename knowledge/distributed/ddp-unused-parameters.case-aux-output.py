# forward() returns an auxiliary output that the loss ignores, so the auxiliary head gets no
# gradient in the first iteration.
# expect-cause: output-not-in-loss
import os
import socket
from datetime import timedelta

import torch
import torch.distributed as dist
import torch.nn as nn
from torch.nn.parallel import DistributedDataParallel as DDP


class SegmentationNet(nn.Module):
    def __init__(self, classes=3):
        super().__init__()
        self.backbone = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU())
        self.classifier = nn.Conv2d(8, classes, 1)
        self.aux_classifier = nn.Conv2d(8, classes, 1)

    def forward(self, x):
        features = self.backbone(x)
        return self.classifier(features), self.aux_classifier(features)


def main():
    with socket.socket() as s:  # torchrun would set these; one process on a free port here
        s.bind(("127.0.0.1", 0))
        os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(s.getsockname()[1]))
    dist.init_process_group("gloo", rank=0, world_size=1, timeout=timedelta(seconds=30))
    model = DDP(SegmentationNet())
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    for step in range(3):
        images, masks = torch.randn(2, 3, 16, 16), torch.randint(0, 3, (2, 16, 16))
        out, _ = model(images)  # expect: ddp-unused-parameters
        loss = nn.functional.cross_entropy(out, masks)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
