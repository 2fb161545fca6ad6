# The layers are created in forward(), so when the optimizer is built the model has no
# parameters yet (and each forward pass would create new, untrained ones).
# expect-cause: no-parameters-yet
import torch
import torch.nn as nn


class Classifier(nn.Module):
    def __init__(self, classes):
        super().__init__()
        self.classes = classes

    def forward(self, x):
        self.hidden = nn.Linear(x.shape[1], 32)
        self.out = nn.Linear(32, self.classes)
        return self.out(torch.relu(self.hidden(x)))


model = Classifier(classes=4)
optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)  # expect: optimizer-empty-params
