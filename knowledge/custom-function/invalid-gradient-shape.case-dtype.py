# A circular convolution computed with the FFT: backward returns the complex result of
# ifft as the gradient of real inputs.
# expect-cause: complex-gradient-for-real-input
import torch


class FFTCircularConv(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, kernel):
        ctx.save_for_backward(x, kernel)
        return torch.fft.ifft(torch.fft.fft(x) * torch.fft.fft(kernel)).real

    @staticmethod
    def backward(ctx, grad_out):
        x, kernel = ctx.saved_tensors
        g = torch.fft.fft(grad_out)
        grad_x = torch.fft.ifft(g * torch.fft.fft(kernel).conj())
        grad_kernel = torch.fft.ifft(g * torch.fft.fft(x).conj())
        return grad_x, grad_kernel


signal = torch.randn(4, 64)
kernel = torch.randn(64, requires_grad=True)
target = torch.randn(4, 64)
out = FFTCircularConv.apply(signal, kernel)
loss = (out - target).pow(2).mean()
loss.backward()  # expect: invalid-gradient-shape
