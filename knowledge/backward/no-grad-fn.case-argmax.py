# The error rate (argmax of the logits) is used as the training loss.
# expect-cause: non-differentiable-op
import torch
import torch.nn as nn

classifier = nn.Linear(5, 3)


def train_step(features, labels):
    logits = classifier(features)
    predictions = logits.argmax(dim=1)  # <- cause
    loss = (predictions != labels).float().mean()
    classifier.zero_grad()
    loss.backward()  # expect: no-grad-fn
    return loss


train_step(torch.randn(6, 5), torch.randint(0, 3, (6,)))
