# An update counter stored as an nn.Parameter.
# expect-cause: integer-parameter
# expect-fix: self.register_buffer("num_updates", torch.tensor(0))
import torch
import torch.nn as nn


class EMAModel(nn.Module):
    def __init__(self, model, decay=0.99):
        super().__init__()
        self.model = model
        self.decay = decay
        self.num_updates = nn.Parameter(torch.tensor(0))  # expect: non-float-requires-grad  # <- check


ema = EMAModel(nn.Linear(4, 2))
