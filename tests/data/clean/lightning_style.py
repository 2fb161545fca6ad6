"""A Lightning-style module: the framework calls training_step and backward."""
import torch
import torch.nn.functional as F
from torch import nn


class Classifier(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(28 * 28, 64), nn.ReLU(inplace=True))
        self.head = nn.Linear(64, 10)
        self.loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x.flatten(1)))

    def training_step(self, batch, batch_idx):
        x, y = batch
        logits = self(x)
        loss = self.loss_fn(logits, y)
        accuracy = (logits.argmax(dim=1) == y).float().mean()
        self.log_values = {"loss": loss.detach(), "acc": accuracy}
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        with torch.no_grad():
            logits = self(x)
        return F.cross_entropy(logits, y).item()

    def configure_optimizers(self):
        return torch.optim.AdamW(self.parameters(), lr=1e-3)


def train(model: Classifier, batches, epochs: int = 1) -> float:
    optimizer = model.configure_optimizers()
    total = 0.0
    for _ in range(epochs):
        for index, batch in enumerate(batches):
            loss = model.training_step(batch, index)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.item()
    return total


if __name__ == "__main__":
    data = [(torch.randn(16, 1, 28, 28), torch.randint(0, 10, (16,))) for _ in range(3)]
    print(train(Classifier(), data))
