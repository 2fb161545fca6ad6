# Label smoothing as a custom Function: backward uses `smoothing`, a local name of
# forward that was never stored on ctx.
# expect-cause: forward-state-not-saved
import torch


class SmoothedNLL(torch.autograd.Function):
    @staticmethod
    def forward(ctx, log_probs, target, smoothing):
        n_classes = log_probs.shape[1]
        soft = torch.full_like(log_probs, smoothing / (n_classes - 1))
        soft.scatter_(1, target.unsqueeze(1), 1 - smoothing)
        ctx.save_for_backward(soft)
        return -(soft * log_probs).sum(1).mean()

    @staticmethod
    def backward(ctx, grad_out):
        soft, = ctx.saved_tensors
        scale = grad_out / soft.shape[0] * (1 - smoothing)  # expect: custom-function-backward-exception
        return -soft * scale, None, None


logits = torch.randn(16, 5, requires_grad=True)
target = torch.randint(0, 5, (16,))
loss = SmoothedNLL.apply(logits.log_softmax(1), target, 0.1)
loss.backward()
