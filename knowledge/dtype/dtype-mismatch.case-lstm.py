# A sensor time series from NumPy (float64) into an LSTM forecaster.
# expect-cause: numpy-float64
# expect-fix: out, _ = self.lstm(seq.float())
import numpy as np
import torch
import torch.nn as nn


class Forecaster(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(input_size=3, hidden_size=16, batch_first=True)
        self.head = nn.Linear(16, 1)

    def forward(self, seq):
        out, _ = self.lstm(seq)  # expect: dtype-mismatch
        return self.head(out[:, -1])


readings = np.sin(np.linspace(0, 20, 2 * 50 * 3)).reshape(2, 50, 3)
pred = Forecaster()(torch.from_numpy(readings))
pred.mean().backward()
