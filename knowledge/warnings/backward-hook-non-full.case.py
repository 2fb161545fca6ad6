# A saliency map from a module backward hook, under a test suite that turns warnings into
# errors (pytest -W error). The hooked block has several operations, so the hook's
# grad_input belongs to the block's last operation (the ReLU: 8 channels), not to the image
# that enters the block (3 channels). torch 2.13's warning names a line inside torch
# (nn/modules/module.py), so only this form points at a line of the script: the forward call.
# expect-cause: own-hook
import warnings

import torch
import torch.nn as nn

warnings.simplefilter("error")

torch.manual_seed(0)
model = nn.Sequential(
    nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU()),
    nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 10),
).eval()
saved = {}


def save_input_gradient(module, grad_input, grad_output):
    saved["saliency"] = grad_input[0]


model[0].register_backward_hook(save_input_gradient)
image = torch.randn(1, 3, 16, 16, requires_grad=True)
logits = model(image)  # expect: backward-hook-non-full
logits[0, logits.argmax()].backward()
print(saved["saliency"].shape, image.grad.shape)
