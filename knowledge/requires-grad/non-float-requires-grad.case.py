# Polynomial coefficients initialised from integer literals, then fitted by gradient descent.
# expect-cause: integer-factory
# expect-fix: coeffs = torch.tensor([1, -2, 3], dtype=torch.float32, requires_grad=True)
import torch

xs = torch.linspace(-1, 1, 30)
ys = 0.5 * xs ** 2 - xs + 2


def fit(steps=20):
    coeffs = torch.tensor([1, -2, 3], requires_grad=True)  # expect: non-float-requires-grad  # <- check
    optimizer = torch.optim.SGD([coeffs], lr=0.1)
    for _ in range(steps):
        pred = coeffs[0] * xs ** 2 + coeffs[1] * xs + coeffs[2]
        loss = ((pred - ys) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return coeffs


print(fit().detach().round(decimals=4))
