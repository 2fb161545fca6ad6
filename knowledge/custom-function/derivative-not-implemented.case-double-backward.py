# A gradient penalty on a CTC loss: CTC's backward has no derivative of its own.
# expect-cause: no-double-backward
import torch
import torch.nn.functional as F

log_probs = torch.randn(30, 4, 12).log_softmax(2).requires_grad_()
targets = torch.randint(1, 12, (4, 10))
input_lengths = torch.full((4,), 30)
target_lengths = torch.full((4,), 10)

loss = F.ctc_loss(log_probs, targets, input_lengths, target_lengths)
grad, = torch.autograd.grad(loss, log_probs, create_graph=True)
penalty = grad.pow(2).sum()
(loss + 0.1 * penalty).backward()  # expect: derivative-not-implemented
