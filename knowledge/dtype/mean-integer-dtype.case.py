# Validation accuracy averaged straight from the comparison of predictions and labels.
# expect-cause: accuracy-from-comparison
# expect-fix: accuracy = (logits.argmax(dim=1) == labels).float().mean()
import torch
import torch.nn as nn

torch.manual_seed(0)
model = nn.Linear(8, 3)
inputs, labels = torch.randn(20, 8), torch.randint(0, 3, (20,))

model.eval()
with torch.no_grad():
    logits = model(inputs)
    accuracy = (logits.argmax(dim=1) == labels).mean()  # expect: mean-integer-dtype
print(f"accuracy {accuracy:.2f}")
