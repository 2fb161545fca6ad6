# A Jacobian with is_grads_batched: the basis vectors are shaped like one row of y, not like y.
# expect-cause: batched-grads-without-batch-dim
import torch

x = torch.randn(5, 3, requires_grad=True)
w = torch.randn(3, 2)
y = torch.tanh(x @ w)
jac, = torch.autograd.grad(y, x, grad_outputs=torch.eye(2), is_grads_batched=True)  # expect: grad-shape-mismatch
