# Fine-tuning: the loop meant to freeze the backbone freezes every parameter, head included.
# expect-cause: nothing-requires-grad
import torch
import torch.nn as nn

model = nn.Sequential(
    nn.Linear(10, 16), nn.ReLU(),  # backbone
    nn.Linear(16, 2),              # new head
)
for param in model.parameters():
    param.requires_grad = False  # <- cause

x, labels = torch.randn(4, 10), torch.randint(0, 2, (4,))
loss = nn.functional.cross_entropy(model(x), labels)
loss.backward()  # expect: no-grad-fn
