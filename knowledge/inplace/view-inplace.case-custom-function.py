# Domain-adversarial training: a gradient reversal layer returns its input as a view, and
# the domain head normalises that output in place.
# expect-cause: custom-function-output-modified
# expect-fix: feat = feat.div(feat.norm(dim=1, keepdim=True) + 1e-6)
import torch
import torch.nn as nn


class GradReverse(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, lambd):
        ctx.lambd = lambd
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output.neg() * ctx.lambd, None


class DomainHead(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.fc = nn.Linear(dim, 2)

    def forward(self, feat, lambd):
        feat = GradReverse.apply(feat, lambd)  # <- cause
        feat.div_(feat.norm(dim=1, keepdim=True) + 1e-6)  # expect: view-inplace  # <- cause
        return self.fc(feat)


backbone = nn.Sequential(nn.Linear(20, 64), nn.ReLU())
head = DomainHead(64)
domains = torch.randint(0, 2, (8,))
logits = head(backbone(torch.randn(8, 20)), lambd=0.1)
loss = nn.functional.cross_entropy(logits, domains)
loss.backward()
