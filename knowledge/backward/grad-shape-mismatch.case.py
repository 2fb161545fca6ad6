# Feature attribution: the gradient of the model's scores w.r.t. the inputs, with a
# hand-built all-ones gradient that has the batch size but not the score's shape.
# expect-cause: hand-built-gradient
# expect-fix: scores.backward(torch.ones_like(scores))
import torch
import torch.nn as nn

model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 1))
inputs = torch.randn(8, 6, requires_grad=True)
scores = model(inputs)
scores.backward(torch.ones(inputs.size(0)))  # expect: grad-shape-mismatch
attribution = inputs.grad * inputs
