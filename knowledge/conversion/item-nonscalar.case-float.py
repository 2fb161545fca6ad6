# float() on a per-element loss when formatting the log line (a ValueError).
# expect-cause: unreduced-loss
# expect-fix: log.append(float(recon_loss.mean()))
import torch
import torch.nn.functional as F

torch.manual_seed(0)

decoder = torch.nn.Linear(3, 5)
log = []
for step in range(2):
    z, target = torch.randn(2, 3), torch.rand(2, 5)
    recon_loss = F.binary_cross_entropy_with_logits(decoder(z), target, reduction="none").sum(dim=1)
    log.append(float(recon_loss))  # expect: item-nonscalar
print([round(v, 4) for v in log])
