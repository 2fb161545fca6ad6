# Python's max() compares the two tensors with `>` and asks the result for one truth value.
# expect-cause: builtin-on-tensors
# expect-fix: best_acc = torch.maximum(best_acc, acc)
import torch
import torch.nn as nn

torch.manual_seed(0)
model = nn.Linear(8, 4)
inputs, labels = torch.randn(64, 8), torch.randint(0, 4, (64,))


def per_class_accuracy(logits, labels, classes=4):
    hits = (logits.argmax(dim=1) == labels).float()
    return torch.stack([hits[labels == c].mean() for c in range(classes)])


best_acc = torch.zeros(4)
for epoch in range(3):
    with torch.no_grad():
        acc = per_class_accuracy(model(inputs), labels)
    best_acc = max(best_acc, acc)  # expect: bool-ambiguous
