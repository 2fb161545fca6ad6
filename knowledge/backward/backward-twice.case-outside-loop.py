# Word features are computed once, before the loop, and reused in every step.
# expect-cause: computed-once-outside-loop
import torch
import torch.nn as nn

embedding = nn.Embedding(50, 8)
classifier = nn.Linear(8, 3)
tokens, labels = torch.randint(0, 50, (12,)), torch.randint(0, 3, (12,))

features = torch.tanh(embedding(tokens))  # <- cause
for epoch in range(3):
    loss = nn.functional.cross_entropy(classifier(features), labels)
    classifier.zero_grad()
    loss.backward()  # expect: backward-twice
