#!/usr/bin/env python3
"""Scanning big logs: `gradexplain explain FILE` against `grep -c Traceback FILE`.

Usage: scripts/bench/scan.py [--runs N] [--dir DIR] [SIZE_MB ...]   (from the project's .venv)
SIZE_MB defaults to 10 100 1000. Each log is written by make_log.py (progress bars, logger
lines, one autograd traceback near the end) into DIR, where a log of that size already
there is reused, or into a temporary folder. The two commands run alternately, N times
(default 5) after one warm-up each, so that load on the machine hits both alike; the
table shows the medians, their ratio, gradexplain's peak memory and whether the targets
hold: at most 64 MiB whatever the size and, from 1 GB, at most 4x grep's time (the issue
sets it for 1 GB: below, gradexplain's start-up of about 0.1-0.2 s is most of its time).

Peak memory is gradexplain's ru_maxrss as GNU time reports it (`/usr/bin/time -f %M`): time
forks the command from its own small process. Without GNU time it is the ru_maxrss that
`os.wait4` gives for the child, which is exact but for a floor: Linux keeps a process's
peak across exec, so a child spawned from this script starts from this script's peak
(about 15 MiB). RUSAGE_CHILDREN would only keep the largest child so far.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
MAX_RATIO = 4.0
RATIO_FROM_MB = 1000  # the size from which the ratio target holds
MAX_PEAK_MIB = 64.0


def gradexplain_command() -> list[str]:
    script = Path(sys.executable).parent / "gradexplain"
    return [str(script)] if script.exists() else [sys.executable, "-m", "gradexplain"]


def make_log(size_mb: int, folder: Path) -> Path:
    """The log of that size in `folder`, written unless it is there already."""
    path = folder / f"scan-{size_mb}mb.log"
    if not path.exists():
        subprocess.run([sys.executable, str(HERE / "make_log.py"), str(size_mb), str(path)],
                       check=True)
    return path


def gnu_time() -> str | None:
    """/usr/bin/time if it is GNU time (it has -f and -o), else None."""
    path = shutil.which("time", path="/usr/bin:/bin")
    if path is None:
        return None
    with tempfile.NamedTemporaryFile("r") as report:
        done = subprocess.run([path, "-f", "%M", "-o", report.name, "true"], check=False,
                              capture_output=True)
        return path if done.returncode == 0 and report.read().strip().isdigit() else None


def run_child(command: Sequence[str], time_tool: str | None = None) -> tuple[float, float]:
    """Wall time in seconds and peak resident memory in MiB of one run of `command`
    (measured by `time_tool`, GNU time, when given)."""
    with tempfile.NamedTemporaryFile("r") as report:
        argv = [time_tool, "-f", "%M", "-o", report.name, *command] if time_tool else command
        actions = [(os.POSIX_SPAWN_OPEN, fd, os.devnull, os.O_RDWR, 0) for fd in (0, 1, 2)]
        start = time.perf_counter()
        pid = os.posix_spawn(argv[0], list(argv), os.environ, file_actions=actions)
        _, status, usage = os.wait4(pid, 0)
        elapsed = time.perf_counter() - start
        code = os.waitstatus_to_exitcode(status)
        if code not in (0, 1):  # grep finds nothing, gradexplain explains nothing: both 1
            raise RuntimeError(f"{' '.join(command)}: exit status {code}")
        peak_kib = int(report.read().split()[-1]) if time_tool else usage.ru_maxrss
    return elapsed, peak_kib / 1024


def measure_one(size_mb: int, log: Path, runs: int) -> dict[str, Any]:
    grep = [shutil.which("grep") or "grep", "-c", "Traceback", str(log)]
    explain = [*gradexplain_command(), "explain", str(log)]
    time_tool = gnu_time()
    run_child(grep)  # warm the page cache, and the knowledge cache
    run_child(explain)
    grep_times, explain_times, peaks = [], [], []
    for _ in range(runs):
        grep_times.append(run_child(grep)[0])
        seconds, peak = run_child(explain, time_tool)
        explain_times.append(seconds)
        peaks.append(peak)
    grep_s, explain_s = statistics.median(grep_times), statistics.median(explain_times)
    ratio = explain_s / grep_s
    fast_enough = ratio <= MAX_RATIO or size_mb < RATIO_FROM_MB
    return {"size_mb": size_mb, "grep_s": grep_s, "gradexplain_s": explain_s, "ratio": ratio,
            "peak_mib": max(peaks), "met": fast_enough and max(peaks) <= MAX_PEAK_MIB}


def measure(sizes: Sequence[int], runs: int, folder: Path | None = None) -> list[dict[str, Any]]:
    """One row per size: size_mb, grep_s, gradexplain_s (medians), ratio, peak_mib (the
    largest of the runs) and met (the targets that apply to that size hold)."""
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        return [measure_one(size, make_log(size, folder), runs) for size in sizes]
    with tempfile.TemporaryDirectory() as temporary:
        rows = []
        for size in sizes:
            log = make_log(size, Path(temporary))
            rows.append(measure_one(size, log, runs))
            log.unlink()  # a 1 GB log need not wait for the others
        return rows


def print_table(rows: Sequence[dict[str, Any]]) -> None:
    print(f"{'size (MB)':>9} {'grep (s)':>9} {'gradexplain (s)':>16} {'ratio':>7} "
          f"{'peak (MiB)':>11}  targets (<= {MAX_PEAK_MIB:g} MiB; from {RATIO_FROM_MB} MB "
          f"<= {MAX_RATIO:g}x)")
    for row in rows:
        print(f"{row['size_mb']:>9} {row['grep_s']:>9.3f} {row['gradexplain_s']:>16.3f} "
              f"{row['ratio']:>7.2f} {row['peak_mib']:>11.1f}  "
              f"{'met' if row['met'] else 'MISSED'}")
    peaks = [row["peak_mib"] for row in rows]
    print(f"peak memory from {min(peaks):.1f} to {max(peaks):.1f} MiB across sizes")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[10, 100, 1000],
                        help="log sizes in MB (default 10 100 1000)")
    parser.add_argument("--runs", type=int, default=5, help="runs per median (default 5)")
    parser.add_argument("--dir", type=Path, help="keep the logs here, and reuse them")
    args = parser.parse_args()
    rows = measure(args.sizes, args.runs, args.dir)
    print_table(rows)
    return 0 if all(row["met"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
