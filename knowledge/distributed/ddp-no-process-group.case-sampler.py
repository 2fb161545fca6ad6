# A DistributedSampler asks the default process group for the number of replicas and the
# rank; in a single-process run there is none.
# expect-cause: rank-query-single-process
import torch
from torch.utils.data import DataLoader, TensorDataset
from torch.utils.data.distributed import DistributedSampler

dataset = TensorDataset(torch.randn(64, 16), torch.randint(0, 4, (64,)))
sampler = DistributedSampler(dataset, shuffle=True)  # expect: ddp-no-process-group
loader = DataLoader(dataset, batch_size=8, sampler=sampler)
for inputs, targets in loader:
    pass
