# A saliency map for an image that was read as uint8.
# expect-cause: integer-input-marked
# expect-fix: image = image.float().requires_grad_()
import torch
import torch.nn as nn

model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 10))
image = torch.randint(0, 256, (1, 3, 8, 8), dtype=torch.uint8)


def saliency(model, image, label):
    image.requires_grad = True  # expect: non-float-requires-grad
    score = model(image / 255.0)[0, label]
    score.backward()
    return image.grad.abs().amax(dim=1)


saliency(model, image, label=3)
