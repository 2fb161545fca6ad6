# The seed example: an element-wise product is a vector, not a loss.
# expect-cause: plain-tensor
# expect-fix: A.sum().backward()
# expect-fix: A.backward(gradient=torch.ones_like(A))
import torch

x = torch.tensor([1.0, 2.0], requires_grad=True)
y = torch.tensor([3.0, 4.0], requires_grad=True)
A = x * y
A.backward()  # expect: nonscalar-backward  # <- check
print(x.grad, y.grad)
