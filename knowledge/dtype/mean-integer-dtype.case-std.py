# Per-channel statistics for Normalize(), computed on decoded uint8 images.
# expect-cause: integer-data
# expect-fix: std = images.float().std(dim=(0, 2, 3))
import torch

torch.manual_seed(0)
images = torch.randint(0, 256, (8, 3, 32, 32), dtype=torch.uint8)
std = images.std(dim=(0, 2, 3))  # expect: mean-integer-dtype
print(std / 255)
