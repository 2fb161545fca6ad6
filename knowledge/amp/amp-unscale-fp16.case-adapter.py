# Fine-tuning a float16 checkpoint: the frozen backbone was loaded in float16 and the new,
# trainable head was created in the same dtype; unscale_() before clipping refuses its
# float16 gradients.
# expect-cause: fp16-trainable-params
import torch
import torch.nn as nn

torch.manual_seed(0)
backbone = nn.Sequential(nn.Linear(16, 32), nn.GELU()).to(torch.float16)
backbone.requires_grad_(False)
head = nn.Linear(32, 4, dtype=torch.float16)
optimizer = torch.optim.AdamW(head.parameters(), lr=1e-3)
scaler = torch.amp.GradScaler("cpu")

inputs, targets = torch.randn(8, 16), torch.randint(0, 4, (8,))
with torch.autocast("cpu", dtype=torch.float16):
    logits = head(backbone(inputs))
loss = nn.functional.cross_entropy(logits.float(), targets)
scaler.scale(loss).backward()
scaler.unscale_(optimizer)  # expect: amp-unscale-fp16
torch.nn.utils.clip_grad_norm_(head.parameters(), max_norm=1.0)
scaler.step(optimizer)
scaler.update()
