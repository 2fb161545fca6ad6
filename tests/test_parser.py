"""Parser tests on real captured output, in the shapes real pastes take.

Tracebacks come from running code: the installed torch, every CPython that pyenv has
here (3.8 to 3.13), IPython, a DataLoader worker. The shapes of logs (rank prefixes,
timestamps, colour, progress bars, quoting, wrapping, truncation) are made by
transforming that real output, the way a terminal, a logger or a chat window would.
"""

from __future__ import annotations

import random
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import KNOWLEDGE, child_env, run_script

from gradexplain.explain import explain
from gradexplain.knowledge import KnowledgeBase
from gradexplain.parser import parse

NESTED = """\
def compute(values):
    total = values * 2
    return finish(total)

def finish(total):
    raise RuntimeError("grad can be implicitly created only for scalar outputs")

def main():
    try:
        compute([1])
    except RuntimeError as error:
        raise ValueError("training step failed") from error

main()
"""
HANDLING = """\
try:
    {}["missing"]
except KeyError:
    raise RuntimeError("Trying to backward through the graph a second time")
"""
PYENV = Path.home() / ".pyenv" / "versions"


def pythons() -> list[Path]:
    """Every CPython 3.8+ interpreter pyenv has here, and this one."""
    found = {Path(sys.executable)}
    if PYENV.is_dir():
        for version in PYENV.iterdir():
            match = re.match(r"3\.(\d+)\.", version.name)
            if match and int(match.group(1)) >= 8 and (version / "bin" / "python").exists():
                found.add(version / "bin" / "python")
    return sorted(found)


def run_code(code: str, tmp_path: Path, python: str = sys.executable,
             env: dict[str, str] | None = None, name: str = "train.py") -> str:
    script = tmp_path / name
    script.write_text(code)
    result = subprocess.run([python, str(script)], capture_output=True, text=True,
                            env=env or child_env(), cwd=tmp_path, timeout=120)
    assert result.returncode != 0
    return result.stderr


@pytest.fixture(scope="module")
def seed_output() -> str:
    """The real output of the bundled seed example under the installed torch."""
    return run_script(KNOWLEDGE / "backward" / "nonscalar-backward.case.py").stderr


def only(text: str | bytes):  # type: ignore[no-untyped-def]
    tracebacks = parse(text)
    assert len(tracebacks) == 1, tracebacks
    return tracebacks[0]


def test_torch_traceback(seed_output: str) -> None:
    tb = only(seed_output)
    assert tb.exception.type == "RuntimeError"
    assert tb.exception.message == "grad can be implicitly created only for scalar outputs"
    assert tb.complete
    assert tb.frames[0].file.endswith("nonscalar-backward.case.py")
    assert tb.frames[0].line == 10
    assert tb.frames[0].code is not None and tb.frames[0].code.startswith("A.backward()")
    assert tb.frames[-1].function == "_make_grads"
    assert not any("^^^" in (f.code or "") for f in tb.frames)


@pytest.mark.parametrize("python", pythons(), ids=lambda p: p.parent.parent.name)
def test_cpython_versions_with_chained_cause(python: Path, tmp_path: Path) -> None:
    env = child_env()
    env.update(FORCE_COLOR="1", PYTHON_COLORS="1")  # 3.13 colours its tracebacks
    env.pop("NO_COLOR", None)
    tracebacks = parse(run_code(NESTED, tmp_path, str(python), env))
    assert [tb.exception.type for tb in tracebacks] == ["RuntimeError", "ValueError"]
    inner, outer = tracebacks
    assert inner.exception.message == "grad can be implicitly created only for scalar outputs"
    assert [(f.line, f.function) for f in inner.frames] == [(10, "main"), (3, "compute"),
                                                           (6, "finish")]
    assert outer.relation == "cause" and outer.parent == 0
    assert outer.frames[-1].code == 'raise ValueError("training step failed") from error'


def test_during_handling_is_context(tmp_path: Path) -> None:
    first, second = parse(run_code(HANDLING, tmp_path))
    assert first.exception.type == "KeyError" and first.relation is None
    assert second.relation == "context" and second.parent == 0
    assert second.exception.message.startswith("Trying to backward")


def test_ipython_cell_traceback(tmp_path: Path, kb: KnowledgeBase) -> None:
    ipython = Path(sys.executable).parent / "ipython"
    assert ipython.exists(), "IPython is a test dependency"
    cell = ("import torch\nx = torch.tensor([1.0, 2.0], requires_grad=True)\nA = x * 2\n"
            "A.backward()\n")
    for colors in ("nocolor", "linux"):
        result = subprocess.run([str(ipython), f"--colors={colors}", "-c", cell],
                                capture_output=True, text=True, env=child_env(), timeout=120)
        output = result.stdout + result.stderr
        assert ("\x1b[" in output) == (colors == "linux")
        report = explain(output, kb.entries)
        assert report.primary is not None
        analysis = report.analyses[report.primary]
        assert analysis.matches[0].entry.id == "nonscalar-backward"
        frame = analysis.traceback.frames[0]
        assert (frame.file, frame.line, frame.code) == ("Cell In[1]", 4, "A.backward()")
        assert analysis.user_frame is not None and analysis.user_frame.frame == frame
        assert analysis.traceback.frames[-1].function == "_make_grads"


def test_dataloader_worker_original_traceback(tmp_path: Path, kb: KnowledgeBase) -> None:
    code = textwrap.dedent("""\
        import torch
        from torch.utils.data import DataLoader, Dataset

        class Points(Dataset):
            def __len__(self):
                return 4
            def __getitem__(self, i):
                w = torch.ones(3, requires_grad=True)
                return (w * i).numpy()

        if __name__ == "__main__":
            for batch in DataLoader(Points(), num_workers=1):
                pass
        """)
    report = explain(run_code(code, tmp_path), kb.entries)
    outer, inner = report.analyses[0].traceback, report.analyses[report.primary or 0].traceback
    assert outer.exception.message.startswith("Caught RuntimeError in DataLoader worker process 0")
    assert inner.relation == "original" and inner.parent == 0
    assert report.analyses[report.primary or 0].matches[0].entry.id == "numpy-requires-grad"
    user = report.analyses[report.primary or 0].user_frame
    assert user is not None and user.frame.line == 9 and user.frame.function == "__getitem__"


def test_mp_spawn_worker_traceback(tmp_path: Path, kb: KnowledgeBase) -> None:
    code = textwrap.dedent("""\
        import torch
        import torch.multiprocessing as mp

        def worker(rank):
            y = torch.randn(3, requires_grad=True) * 2
            y.backward()

        if __name__ == "__main__":
            mp.spawn(worker, nprocs=2)
        """)
    report = explain(run_code(code, tmp_path), kb.entries)
    assert report.primary == 1
    inner = report.analyses[1]
    assert inner.traceback.relation == "original" and inner.traceback.parent == 0
    assert inner.matches[0].entry.id == "nonscalar-backward"
    assert inner.user_frame is not None and inner.user_frame.frame.function == "worker"
    assert inner.user_frame.frame.line == 6


def prefixed(text: str, prefix: str) -> str:
    return "".join(prefix + line for line in text.splitlines(keepends=True))


def test_rank_prefixes_interleaved(seed_output: str) -> None:
    ranks = [prefixed(seed_output, f"[rank{r}]: ").splitlines(keepends=True) for r in range(4)]
    rng = random.Random(7)
    mixed = []
    while any(ranks):
        lines = rng.choice([r for r in ranks if r])
        mixed.append(lines.pop(0))
    tracebacks = parse("".join(mixed))
    assert sorted(tb.stream for tb in tracebacks) == ["0", "1", "2", "3"]
    reference = only(seed_output)
    for tb in tracebacks:
        assert tb.frames == reference.frames
        assert tb.exception == reference.exception


@pytest.mark.parametrize("prefix", ["[default3]:", "[1,3]<stderr>:", "> ", "    ", "  | "])
def test_prefixed_lines(seed_output: str, prefix: str) -> None:
    assert only(prefixed(seed_output, prefix)).frames == only(seed_output).frames


def test_timestamps_on_every_line(seed_output: str) -> None:
    lines = seed_output.splitlines()
    logged = "\n".join(f"2024-05-01 12:00:{i % 60:02d},{i * 37 % 1000:03d} ERROR trainer: {line}"
                       for i, line in enumerate(lines))
    tb = only("INFO step 1 loss 0.3\n" + logged + "\n")
    assert tb.frames == only(seed_output).frames
    assert tb.exception.message == "grad can be implicitly created only for scalar outputs"


def test_logging_exception_output(tmp_path: Path) -> None:
    code = ("import logging\nlogging.basicConfig(format='%(asctime)s %(levelname)s %(message)s')\n"
            "try:\n    1 / 0\nexcept ZeroDivisionError:\n    logging.exception('step failed')\n"
            "raise SystemExit(1)\n")
    tb = only(run_code(code, tmp_path))
    assert tb.exception.type == "ZeroDivisionError"
    assert tb.frames[0].line == 4


def test_ansi_colours_and_progress_bars(seed_output: str) -> None:
    bars = "".join(f"\rEpoch 1: {p:3d}%|{'█' * (p // 10)}| {p}/100 [00:0{p // 20}<00:05, 9.1it/s]"
                   for p in range(0, 101, 10))
    coloured = re.sub(r"(RuntimeError|File)", "\x1b[1;31m\\1\x1b[0m", seed_output)
    text = "loading\n" + bars + "\r" + coloured.replace("\n", "\r\n")
    tb = only(text)
    assert tb.frames == only(seed_output).frames
    assert tb.exception.message == "grad can be implicitly created only for scalar outputs"


def test_several_tracebacks_and_noise(seed_output: str, tmp_path: Path) -> None:
    other = run_code(HANDLING, tmp_path)
    text = f"start\n{other}\nepoch 2 loss=0.1\nWARNING something\n{seed_output}done\n"
    tracebacks = parse(text)
    assert [tb.exception.type for tb in tracebacks] == ["KeyError", "RuntimeError",
                                                        "RuntimeError"]


def test_markdown_fenced_paste(seed_output: str) -> None:
    text = f"I get this error, any idea?\n\n```python\n{seed_output}```\n\nThanks!"
    tb = only(text)
    assert tb.exception.message == "grad can be implicitly created only for scalar outputs"
    assert tb.frames == only(seed_output).frames


def test_hard_wrapped_message_still_matches(tmp_path: Path, kb: KnowledgeBase) -> None:
    run = run_script(KNOWLEDGE / "inplace" / "inplace-modified-saved.case.py")
    wrapped = "\n".join(
        chunk for line in run.stderr.splitlines()
        for chunk in (textwrap.wrap(line, 60, break_long_words=True, break_on_hyphens=False,
                                    drop_whitespace=False) or [""]))
    report = explain(wrapped, kb.entries)
    assert report.primary is not None
    assert report.analyses[report.primary].matches[0].entry.id == "inplace-modified-saved"


def test_truncated_at_every_line(seed_output: str) -> None:
    lines = seed_output.splitlines(keepends=True)
    for cut in range(1, len(lines)):
        tracebacks = parse("".join(lines[:cut]))
        assert len(tracebacks) == 1
        assert not tracebacks[0].complete


def test_message_only_pastes(kb: KnowledgeBase) -> None:
    for text in ("RuntimeError: grad can be implicitly created only for scalar outputs\n",
                 "grad can be implicitly created only for scalar outputs",
                 "> `RuntimeError: grad can be implicitly created only for scalar outputs`"):
        report = explain(text, kb.entries)
        assert report.primary is not None, text
        assert report.analyses[report.primary].matches[0].entry.id == "nonscalar-backward"


def test_windows_paths_and_crlf(seed_output: str) -> None:
    windows = seed_output.replace("/", "\\").replace('File "\\', 'File "C:\\').replace("\n", "\r\n")
    tb = only(windows)
    assert tb.frames[0].file.startswith("C:\\")
    assert tb.frames[0].line == 10


def test_bytes_not_utf8(seed_output: str) -> None:
    data = b"\xff\xfe garbage \x00\x01\n" + seed_output.encode().replace(b"File", b"File", 1)
    data = data.replace(b"case.py", "caseé.py".encode("latin-1"))
    tb = only(data)
    assert "\ufffd" in tb.frames[0].file
    assert tb.frames[0].line == 10


def test_prose_mentioning_traceback_is_not_a_traceback() -> None:
    tracebacks = parse("the Traceback (most recent call last) header starts a traceback\n")
    assert all(not tb.frames and tb.exception.type is None for tb in tracebacks)


def test_large_input_streams_in_bounded_chunks(seed_output: str) -> None:
    noise = b"epoch 1 step 2 loss 0.25 lr 0.001 |" + b"#" * 60 + b"\n"
    chunks = (noise * 20_000 for _ in range(20))  # 20 chunks of about 2 MB
    tracebacks = parse(iter([*chunks, seed_output.encode()]))
    assert len(tracebacks) == 1 and tracebacks[0].frames == only(seed_output).frames


def test_huge_line_without_newline() -> None:
    assert parse(b"x" * (5 * 1024 * 1024)) == []


def test_scanner_idles_again_after_a_rank_goes_quiet(seed_output: str) -> None:
    """Skipping log lines fast depends on the scanner going idle after a traceback, even when
    the rank that printed it says nothing more."""
    from gradexplain.parser import IDLE_AFTER, Scanner

    scanner = Scanner()
    for line in prefixed(seed_output, "[rank3]: ").encode().splitlines():
        scanner.feed(line)
    scanner.feed(b"[rank3]: ")
    assert not scanner.idle
    for _ in range(IDLE_AFTER + 1):
        scanner.feed(b"[rank0]: epoch 1 step 2 loss 0.1")
    assert scanner.idle
    assert [tb.stream for tb in scanner.finish()[0]] == ["3"]


def test_endless_distinct_prefixes_keep_the_stream_table_bounded() -> None:
    from gradexplain.parser import MAX_STREAMS, Scanner

    scanner = Scanner()
    for rank in range(5 * MAX_STREAMS):
        scanner.feed(b"[rank%d]: Traceback (most recent call last):" % rank)
        scanner.feed(b'[rank%d]:   File "/u/t.py", line 1, in f' % rank)
        assert len(scanner.streams) <= MAX_STREAMS
    tracebacks, _ = scanner.finish()
    assert len(tracebacks) == 5 * MAX_STREAMS
    assert all(not tb.complete and tb.frames[0].file == "/u/t.py" for tb in tracebacks)
