# Code written for multi-GPU training, run on one machine without a process group:
# dist.get_rank() needs init_process_group() first.
# expect-cause: rank-query-single-process
# expect-fix: if (dist.get_rank() if dist.is_initialized() else 0) == 0:
import torch
import torch.distributed as dist
import torch.nn as nn

model = nn.Linear(16, 4)
optimizer = torch.optim.SGD(model.parameters(), lr=0.01)

for epoch in range(2):
    loss = nn.functional.mse_loss(model(torch.randn(8, 16)), torch.randn(8, 4))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    if dist.get_rank() == 0:  # expect: ddp-no-process-group
        torch.save(model.state_dict(), "checkpoint.pt")
