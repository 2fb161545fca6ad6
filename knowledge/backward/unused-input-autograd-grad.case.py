# A meta-learning inner step takes gradients over every parameter, but the forward pass
# only uses the head that belongs to this task.
# expect-cause: unused-parameters
# expect-fix: grads = torch.autograd.grad(loss, model.parameters(), create_graph=True, allow_unused=True, materialize_grads=True)
import torch
import torch.nn as nn


class MultiHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(3, 8)
        self.heads = nn.ModuleList([nn.Linear(8, 1), nn.Linear(8, 1)])

    def forward(self, x, task):
        return self.heads[task](torch.relu(self.body(x)))


def inner_step(model, x, y, task, lr=0.01):
    loss = nn.functional.mse_loss(model(x, task), y)
    grads = torch.autograd.grad(loss, model.parameters(), create_graph=True)  # expect: unused-input-autograd-grad
    return [p - lr * g for p, g in zip(model.parameters(), grads)]


inner_step(MultiHead(), torch.randn(5, 3), torch.randn(5, 1), task=0)
