# Exporting a model's weights to NumPy for another runtime. On a GPU this fails with
# "can't convert cuda:0 device type tensor to numpy"; on a machine without one, the model
# here lives on the meta device (shapes only), which has no host copy either.
# expect-cause: meta-tensor
import torch
import torch.nn as nn

device = "cuda" if torch.cuda.is_available() else "meta"
with torch.device(device):
    model = nn.Sequential(nn.Embedding(100, 16), nn.Linear(16, 100))

arrays = {}
for name, tensor in model.state_dict().items():
    arrays[name] = tensor.numpy()  # expect: numpy-cuda-tensor
