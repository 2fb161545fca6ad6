# Weights loaded into a meta-device model with assign=True: a non-persistent buffer is not in
# the checkpoint, so it is still on the meta device when the model is moved.
# expect-cause: missing-from-checkpoint
import torch
import torch.nn as nn


class RotaryAttention(nn.Module):
    def __init__(self, dim=32):
        super().__init__()
        self.qkv = nn.Linear(dim, 3 * dim)
        inv_freq = 1.0 / (10000 ** (torch.arange(0, dim, 2).float() / dim))
        self.register_buffer("inv_freq", inv_freq, persistent=False)


checkpoint = RotaryAttention().state_dict()  # stands in for torch.load("model.pt")

with torch.device("meta"):
    model = RotaryAttention()
model.load_state_dict(checkpoint, assign=True)
model = model.to("cpu")  # expect: device-meta-copy
