#!/usr/bin/env python3
"""Overhead of `gradexplain run` against plain `python` on scripts that succeed.

Usage: scripts/bench/run_overhead.py [RUNS]   (from the project's .venv)
Runs each pair alternately (so load on the machine hits both alike) and prints the median
wall time of each and their ratio, for a script that imports torch and trains a few steps,
and for a trivial script.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TORCH_SCRIPT = """\
import torch
model = torch.nn.Linear(16, 1)
opt = torch.optim.SGD(model.parameters(), lr=0.1)
for _ in range(20):
    loss = model(torch.randn(32, 16)).pow(2).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
"""
TRIVIAL_SCRIPT = "print('hello')\n"


def timed(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=env)
    return time.perf_counter() - start


def compare(script: Path, runs: int, env: dict[str, str]) -> tuple[float, float]:
    gradexplain = str(Path(sys.executable).parent / "gradexplain")
    plain, wrapped = [], []
    for _ in range(runs):
        plain.append(timed([sys.executable, str(script)], env))
        wrapped.append(timed([gradexplain, "run", str(script)], env))
    return statistics.median(plain), statistics.median(wrapped)


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    env = dict(os.environ, OMP_NUM_THREADS="1")
    with tempfile.TemporaryDirectory() as folder:
        print(f"{'script':<10} {'python (s)':>11} {'gradexplain run (s)':>20} {'ratio':>7}")
        for name, text in (("torch", TORCH_SCRIPT), ("trivial", TRIVIAL_SCRIPT)):
            script = Path(folder) / f"bench_{name}.py"
            script.write_text(text)
            plain, wrapped = compare(script, runs, env)
            print(f"{name:<10} {plain:>11.3f} {wrapped:>20.3f} {wrapped / plain:>7.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
