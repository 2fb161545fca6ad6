# Phase retrieval: the field keeps the complex measurement inside the aperture and the
# learned real amplitude outside it; torch.where mixes the real and the complex tensor.
# expect-cause: builtin-op-mixes-real-and-complex
import torch

n = 64
aperture = torch.rand(n, n) > 0.5
measured = torch.randn(n, n, dtype=torch.complex64)
amplitude = torch.ones(n, n, requires_grad=True)
target = torch.rand(n, n)
opt = torch.optim.Adam([amplitude], lr=0.05)

for step in range(3):
    field = torch.where(aperture, measured, amplitude)
    far_field = torch.fft.fft2(field)
    loss = (far_field.abs() - target).pow(2).mean()
    opt.zero_grad()
    loss.backward()  # expect: invalid-gradient-shape
    opt.step()
