# CLIP-style contrastive loss: the learnable temperature is a parameter of the model but is
# used outside forward(), so DDP (with find_unused_parameters=True) thinks it is unused.
# expect-cause: param-outside-forward
import os
import socket
from datetime import timedelta

import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel as DDP


class DualEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.image_proj = nn.Linear(16, 8)
        self.text_proj = nn.Linear(12, 8)
        self.logit_scale = nn.Parameter(torch.tensor(2.659))

    def forward(self, images, texts):
        return F.normalize(self.image_proj(images), dim=-1), F.normalize(self.text_proj(texts), dim=-1)


def main():
    with socket.socket() as s:  # torchrun would set these; one process on a free port here
        s.bind(("127.0.0.1", 0))
        os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(s.getsockname()[1]))
    dist.init_process_group("gloo", rank=0, world_size=1, timeout=timedelta(seconds=30))
    model = DDP(DualEncoder(), find_unused_parameters=True)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    images, texts = torch.randn(8, 16), torch.randn(8, 12)
    image_emb, text_emb = model(images, texts)
    logits = model.module.logit_scale.exp() * image_emb @ text_emb.T
    labels = torch.arange(8)
    loss = (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2
    loss.backward()  # expect: ddp-mark-ready-twice
    optimizer.step()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
