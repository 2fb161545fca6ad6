# Saliency map: gradient of the class score with respect to the input image.
# expect-cause: input-created-without-grad
import torch
import torch.nn as nn

model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Flatten(), nn.LazyLinear(10))
image = torch.rand(1, 3, 16, 16)
score = model(image)[0, 3]
saliency, = torch.autograd.grad(score, image)  # expect: input-not-requiring-grad
print(saliency.abs().amax(dim=1).shape)
