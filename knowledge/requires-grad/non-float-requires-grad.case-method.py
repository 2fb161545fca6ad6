# An adversarial perturbation of 16-bit PCM audio: the waveform is still int16.
# expect-cause: integer-input-marked
# expect-fix: waveform = waveform.float().requires_grad_()
import numpy as np
import torch
import torch.nn as nn

classifier = nn.Sequential(nn.Linear(160, 32), nn.ReLU(), nn.Linear(32, 2))
pcm = (np.random.randn(160) * 1000).astype(np.int16)

waveform = torch.from_numpy(pcm)
waveform.requires_grad_()  # expect: non-float-requires-grad  # <- check
loss = classifier(waveform / 32768.0)[1]
loss.backward()
