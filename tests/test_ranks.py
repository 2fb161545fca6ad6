"""Multi-process logs: identical errors from many ranks are grouped, the first failing
rank is the one explained, and torchelastic error files are read when a log names them.
Proven on logs of a real `torchrun --nproc_per_node=2` run (gloo on CPU) where both ranks
fail, and on stored variants."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import child_env

from gradexplain.explain import explain
from gradexplain.knowledge import KnowledgeBase
from gradexplain.ranks import describe_ranks

TRAIN = """\
import torch
import torch.distributed as dist
from torch.distributed.elastic.multiprocessing.errors import record


@record
def main():
    dist.init_process_group("gloo")
    w = torch.randn(3, requires_grad=True)
    per_sample = (torch.randn(4, 3) @ w - 1.0) ** 2
    per_sample.backward()


if __name__ == "__main__":
    main()
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def torchrun_log(tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("torchrun")
    (folder / "train.py").write_text(TRAIN)
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
                f"--master_port={free_port()}", "train.py"]
    done = subprocess.run(torchrun, capture_output=True, text=True, cwd=folder,
                          env=child_env(), timeout=300)
    assert done.returncode != 0
    return done.stdout + done.stderr


def test_real_torchrun_log_groups_both_ranks(torchrun_log: str, kb: KnowledgeBase) -> None:
    assert "[rank0]:" in torchrun_log and "[rank1]:" in torchrun_log
    report = explain(torchrun_log, kb.entries)
    assert report.primary is not None
    chosen = report.analyses[report.primary]
    assert chosen.matches[0].entry.id == "nonscalar-backward"
    assert chosen.ranks == ("0", "1")
    root = re.search(r"Root Cause \(first observed failure\):\n\[(\d)\]:", torchrun_log)
    assert root is not None
    assert chosen.traceback.stream == root.group(1)  # the rank torchrun saw fail first
    assert chosen.user_frame is not None and chosen.user_frame.frame.line == 11


def test_error_file_is_read_when_the_log_only_names_it(torchrun_log: str, tmp_path: Path,
                                                       kb: KnowledgeBase) -> None:
    """Keep only torchrun's summary: the traceback comes from the error file it names."""
    summary = torchrun_log[torchrun_log.index("ChildFailedError"):]
    summary = "\n".join(line for line in summary.splitlines()
                        if not line.startswith("    ") and "RuntimeError" not in line)
    assert "error_file:" in summary and "grad can be implicitly" not in summary
    report = explain(summary, kb.entries)
    assert report.primary is not None
    assert report.analyses[report.primary].matches[0].entry.id == "nonscalar-backward"


def interleaved(ranks: list[int], message: str, line: int) -> list[str]:
    lines = []
    for rank in ranks:
        lines += [f"[rank{rank}]: Traceback (most recent call last):",
                  f'[rank{rank}]:   File "/job/train.py", line {line}, in <module>',
                  f"[rank{rank}]:     loss.backward()",
                  f"[rank{rank}]: RuntimeError: {message}"]
    return lines


def test_stored_log_groups_identical_errors_apart_from_a_different_one(
        kb: KnowledgeBase) -> None:
    twice = ("Trying to backward through the graph a second time (or directly access saved "
             "tensors after they have already been freed). Saved intermediate values of the "
             "graph are freed when you call .backward() or autograd.grad().")
    log = "\n".join(["epoch 3 step 100", *interleaved([2, 0, 1, 5], twice, 88),
                     *interleaved([3], "CUDA error: device-side assert triggered", 12)])
    report = explain(log, kb.entries, read_source=False)
    assert report.primary is not None
    chosen = report.analyses[report.primary]
    assert chosen.traceback.stream == "2"  # the first printed: no torchrun summary here
    assert chosen.ranks == ("0", "1", "2", "5")
    other = [a for a in report.analyses if a.traceback.stream == "3"]
    assert other[0].ranks == ("3",) and not other[0].matches
    data = json.loads(__import__("gradexplain.render", fromlist=["x"]).render_json(report))
    assert data["tracebacks"][report.primary]["ranks"] == ["0", "1", "2", "5"]


@pytest.mark.parametrize("content", ["", "{not json", json.dumps({"message": "x"}),
                                     json.dumps({"message": {"extraInfo": {"py_callstack": 3}}})])
def test_broken_error_files_are_ignored(tmp_path: Path, content: str,
                                        kb: KnowledgeBase) -> None:
    error_file = tmp_path / "0" / "error.json"
    error_file.parent.mkdir()
    error_file.write_text(content)
    log = textwrap.dedent(f"""\
        torch.distributed.elastic.multiprocessing.errors.ChildFailedError:
        Root Cause (first observed failure):
        [0]:
          rank      : 0 (local_rank: 0)
          error_file: {error_file}
          error_file: /no/such/error.json
        """)
    assert explain(log, kb.entries).primary is None


@pytest.mark.parametrize(("ranks", "text"), [
    (["0"], "rank 0"), (["0", "1", "2", "3"], "ranks 0-3"),
    (["0", "1", "2", "5", "7", "8"], "ranks 0-2, 5, 7-8"), (["1,3", "1,4"], "ranks 1,3, 1,4")])
def test_rank_lists_in_words(ranks: list[str], text: str) -> None:
    assert describe_ranks(ranks) == text



def test_root_cause_rank_is_found_after_a_long_quiet_stretch(kb: KnowledgeBase) -> None:
    """The summary may come long after the ranks' tracebacks (the scanner skips quiet
    stretches); the root cause's rank must still be read."""
    message = "grad can be implicitly created only for scalar outputs"
    log = "\n".join([*interleaved([1, 0], message, 10), *["step done"] * 500,
                     "Root Cause (first observed failure):", "[0]:", "  time      : today",
                     "  host      : node1", "  rank      : 0 (local_rank: 0)", ""])
    report = explain(log, kb.entries, read_source=False)
    assert report.primary is not None
    assert report.analyses[report.primary].traceback.stream == "0"
