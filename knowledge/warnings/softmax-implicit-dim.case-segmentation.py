# Per-pixel classification: the logits are (batch, classes, height, width), for which the
# implicit choice is dim 1, the classes. The result is right; only the implicit choice is
# deprecated.
# expect-exit: 0
# expect-cause: channel-dim-chosen
# expect-fix: log_probs = F.log_softmax(logits, dim=1)
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
model = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 4, 1))
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
images, masks = torch.randn(2, 3, 16, 16), torch.randint(0, 4, (2, 16, 16))

for step in range(3):
    optimizer.zero_grad()
    logits = model(images)
    log_probs = F.log_softmax(logits)  # expect: softmax-implicit-dim
    loss = F.nll_loss(log_probs, masks)
    loss.backward()
    optimizer.step()
print(f"loss {loss.item():.4f}")
