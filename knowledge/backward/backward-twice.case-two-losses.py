# A multi-task model: each head's loss calls backward() on its own through the shared encoder.
# expect-cause: two-backward-calls
import torch
import torch.nn as nn

torch.manual_seed(0)

encoder = nn.Sequential(nn.Linear(6, 16), nn.Tanh())
age_head, score_head = nn.Linear(16, 1), nn.Linear(16, 1)
x = torch.randn(10, 6)
age, score = torch.randn(10, 1), torch.randn(10, 1)

shared = encoder(x)
age_loss = nn.functional.mse_loss(age_head(shared), age)
score_loss = nn.functional.l1_loss(score_head(shared), score)
age_loss.backward()  # <- cause
score_loss.backward()  # expect: backward-twice
print(encoder[0].weight.grad.norm().round(decimals=4))
