# Domain-adversarial training with an old-style gradient reversal layer (pre-1.5 code):
# forward/backward are instance methods and the Function is instantiated with its alpha.
# expect-cause: legacy-instance-methods
# expect-fix: return self.head(GradReverse.apply(features, self.alpha))
import torch
import torch.nn as nn


class GradReverse(torch.autograd.Function):
    def __init__(self, alpha):
        super().__init__()
        self.alpha = alpha

    def forward(self, x):
        return x.view_as(x)

    def backward(self, grad_output):
        return -self.alpha * grad_output


class DomainClassifier(nn.Module):
    def __init__(self, alpha=1.0):
        super().__init__()
        self.alpha = alpha
        self.head = nn.Sequential(nn.Linear(32, 16), nn.ReLU(), nn.Linear(16, 2))

    def forward(self, features):
        return self.head(GradReverse(self.alpha)(features))  # expect: custom-function-legacy


features = torch.randn(8, 32, requires_grad=True)
domain_logits = DomainClassifier()(features)
