# The model was converted to float16 to save memory; the batches are still float32.
# expect-cause: model-precision-changed
# expect-fix: logits = classifier(batch.to(next(classifier.parameters()).dtype))
import torch
import torch.nn as nn

torch.manual_seed(0)
classifier = nn.Sequential(nn.Linear(32, 64), nn.GELU(), nn.Linear(64, 4)).half()
classifier.eval()

batch = torch.randn(8, 32)
with torch.no_grad():
    logits = classifier(batch)  # expect: dtype-mismatch
print(logits.argmax(dim=1))
