# A running statistic is created inside an inference_mode evaluation and updated during training.
# expect-cause: state-created-in-inference-mode
import torch


class RunningNorm:
    def __init__(self):
        self.count = None

    def update(self, batch):
        if self.count is None:
            self.count = torch.zeros(())
            self.mean = batch.mean(0)
        self.count += 1  # expect: inference-tensor-backward
        self.mean += (batch.mean(0) - self.mean) / self.count


norm = RunningNorm()
with torch.inference_mode():
    norm.update(torch.randn(8, 4))
norm.update(torch.randn(8, 4))
