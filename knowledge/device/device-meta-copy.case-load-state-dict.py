# An EMA copy initialised from the state dict of a model that was built on the meta device
# and never given weights: load_state_dict() cannot copy out of meta tensors.
# expect-cause: copied-from-meta
import torch
import torch.nn as nn


def build():
    return nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))


with torch.device("meta"):
    student = build()
ema = build()
ema.load_state_dict(student.state_dict())  # expect: device-meta-copy
