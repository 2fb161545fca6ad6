# A metric computed with NumPy on the model's probabilities during training.
# expect-cause: logging-or-metrics
# expect-fix: probs = logits.softmax(dim=1).detach().numpy()
import numpy as np
import torch
import torch.nn as nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))


def mean_confidence(logits):
    probs = logits.softmax(dim=1).numpy()  # expect: numpy-requires-grad  # <- check
    return float(np.max(probs, axis=1).mean())


for step in range(2):
    x, y = torch.randn(8, 4), torch.randint(0, 3, (8,))
    logits = model(x)
    loss = nn.functional.cross_entropy(logits, y)
    model.zero_grad()
    loss.backward()
    print(f"step {step}: loss {loss.item():.3f}, confidence {mean_confidence(logits):.3f}")
