# `if not boxes:` on an image without ground-truth boxes: an empty tensor has no truth
# value either ("with no values").
# expect-cause: truthiness-check
# expect-fix: if boxes.numel() == 0:
import torch

torch.manual_seed(0)
batch = [
    {"image": torch.rand(3, 32, 32), "boxes": torch.tensor([[2.0, 3.0, 20.0, 25.0]])},
    {"image": torch.rand(3, 32, 32), "boxes": torch.zeros(0, 4)},  # background-only image
]


def box_areas(sample):
    boxes = sample["boxes"]
    if not boxes:  # expect: bool-ambiguous
        return torch.zeros(0)
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


areas = [box_areas(sample) for sample in reversed(batch)]
