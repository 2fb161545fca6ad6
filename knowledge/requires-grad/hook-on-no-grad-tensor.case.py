# Grad-CAM: a forward hook records the gradient of a conv layer's output, but the pass runs under no_grad.
# expect-cause: forward-without-grad
import torch
import torch.nn as nn

model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 5))
grads = []


def save_grad(module, inputs, output):
    output.register_hook(grads.append)  # expect: hook-on-no-grad-tensor


model[0].register_forward_hook(save_grad)
with torch.no_grad():
    logits = model(torch.rand(1, 3, 32, 32))
logits[0, logits.argmax()].backward()
