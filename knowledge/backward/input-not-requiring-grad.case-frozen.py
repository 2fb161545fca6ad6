# Inner-loop gradients of a fine-tuned model whose embedding layer is frozen.
# expect-cause: frozen-parameters
# expect-fix: grads = torch.autograd.grad(loss, [p for p in model.parameters() if p.requires_grad], create_graph=True)
import torch
import torch.nn as nn

model = nn.Sequential(nn.Embedding(50, 8), nn.Flatten(), nn.Linear(32, 2))
model[0].weight.requires_grad_(False)
tokens = torch.randint(0, 50, (4, 4))
loss = nn.functional.cross_entropy(model(tokens), torch.tensor([0, 1, 1, 0]))
grads = torch.autograd.grad(loss, model.parameters(), create_graph=True)  # expect: input-not-requiring-grad
