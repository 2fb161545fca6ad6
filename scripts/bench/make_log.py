#!/usr/bin/env python3
"""Write a realistic training log of a given size with one autograd traceback near its end.

Usage: make_log.py SIZE_MB OUT [TRACEBACK_FILE]
The log has tqdm progress bars redrawn with \\r, logger lines with timestamps, and warnings
(the words a naive scanner would stop at); the traceback is the seed example's by default.
"""

from __future__ import annotations

import sys
from pathlib import Path

SEED_TRACEBACK = """\
Traceback (most recent call last):
  File "/home/user/project/train.py", line 88, in <module>
    loss.backward()
  File "/opt/venv/lib/python3.11/site-packages/torch/_tensor.py", line 623, in backward
    torch.autograd.backward(
  File "/opt/venv/lib/python3.11/site-packages/torch/autograd/__init__.py", line 388, in backward
    grad_tensors_ = _make_grads(tensors, grad_tensors_, is_grads_batched=False)
  File "/opt/venv/lib/python3.11/site-packages/torch/autograd/__init__.py", line 208, in _make_grads
    raise RuntimeError(
RuntimeError: grad can be implicitly created only for scalar outputs
"""


def block(epoch: int) -> bytes:
    lines = []
    for step in range(0, 100, 5):
        bar = "\r".join(f"Epoch {epoch}: {p:3d}%|{'#' * (p // 10):<10}| {p}/100 "
                        f"[00:{p // 2:02d}<00:{(100 - p) // 2:02d}, 2.{p % 9}it/s, "
                        f"loss={1 / (p + 1):.4f}]"
                        for p in range(step, step + 5))
        lines.append(bar)
        lines.append(f"2026-11-25 21:{epoch % 60:02d}:{step % 60:02d},123 INFO trainer: "
                     f"epoch={epoch} step={step} loss={0.5 / (step + 1):.5f} lr=3e-4 "
                     f"grad_norm=1.{step}")
    lines.append(f"2026-11-25 21:{epoch % 60:02d}:59,999 WARNING trainer: slow batch, data "
                 "loader waited 1.2 s (UserWarning: this DataLoader will create 8 workers)")
    return ("\n".join(lines) + "\n").encode()


def main() -> int:
    size = int(float(sys.argv[1]) * 1024 * 1024)
    out = Path(sys.argv[2])
    traceback = Path(sys.argv[3]).read_bytes() if len(sys.argv) > 3 else SEED_TRACEBACK.encode()
    written, epoch = 0, 0
    with out.open("wb") as handle:
        while written < size - len(traceback) - 4096:
            chunk = b"".join(block(epoch + i) for i in range(50))
            handle.write(chunk)
            written += len(chunk)
            epoch += 50
        handle.write(traceback)
        handle.write(b"wandb: Waiting for W&B process to finish... (failed 1).\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
