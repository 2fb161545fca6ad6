"""Limits and messages of `explain` (issue 6, item 5): `--max-bytes` keeps the part of a
huge input where the error is, says what it skipped, and never cuts off the program writing
into a pipe; every problem with the input or the knowledge is one clear line."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from conftest import GRADEXPLAIN, MINIMAL_ENTRY, child_env

from gradexplain import app, entry

TRACEBACK = b"""Traceback (most recent call last):
  File "/home/u/train.py", line 9, in <module>
    A.backward()
RuntimeError: grad can be implicitly created only for scalar outputs
"""
FILLER = b"epoch 1 step 5 loss=0.25 lr=3e-4 |#####     | 50%\n" * 40_000  # about 2 MB


def gx(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([GRADEXPLAIN, *args], input=stdin, capture_output=True,
                          env=child_env(), timeout=120)


def test_a_big_file_is_read_from_its_end(tmp_path: Path) -> None:
    log = tmp_path / "job.log"
    log.write_bytes(FILLER + TRACEBACK)
    result = gx("explain", "--max-bytes", "1M", str(log))
    assert result.returncode == 0 and result.stdout.startswith(b"nonscalar-backward")
    size = app.human(log.stat().st_size)
    assert result.stderr.decode().splitlines() == [
        f"gradexplain: note: {log}: read its last 1.0 MiB of {size} (--max-bytes)"]


def test_what_lies_before_the_limit_is_not_read(tmp_path: Path) -> None:
    log = tmp_path / "job.log"
    log.write_bytes(TRACEBACK + FILLER)
    assert gx("explain", "--max-bytes", "1M", str(log)).returncode == 1
    assert gx("explain", "--max-bytes", "0", str(log)).returncode == 0


def test_a_pipe_is_drained_and_its_end_scanned() -> None:
    """The writer of the pipe sees every byte consumed (no broken pipe); the traceback at
    the end is found although the limit was passed long before."""
    writer = subprocess.Popen(["python3", "-c", (
        "import sys\nfiller = b'step 1 loss 0.5 ' * 4 + b'\\n'\n"
        "for _ in range(100_000): sys.stdout.buffer.write(filler)\n"
        f"sys.stdout.buffer.write({TRACEBACK!r})\nprint('writer done', file=sys.stderr)\n")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    reader = subprocess.run([GRADEXPLAIN, "explain", "--max-bytes", "1M"], stdin=writer.stdout,
                            capture_output=True, env=child_env(), timeout=120)
    assert writer.stdout is not None and writer.stderr is not None
    writer.stdout.close()
    assert writer.wait(timeout=60) == 0 and writer.stderr.read() == b"writer done\n"
    assert reader.returncode == 0 and reader.stdout.startswith(b"nonscalar-backward")
    assert b"scanned its first 1.0 MiB and last" in reader.stderr


@pytest.mark.parametrize("text, size", [("0", 0), ("512", 512), ("4K", 4096),
                                        ("500M", 500 << 20), ("2g", 2 << 30),
                                        ("1GiB", 1 << 30)])
def test_sizes(text: str, size: int) -> None:
    assert app.parse_size(text) == size


@pytest.mark.parametrize("text", ["", "abc", "1.5G", "-1", "10T"])
def test_bad_sizes_are_usage_errors(text: str) -> None:
    with pytest.raises(app.UsageError, match="--max-bytes"):
        app.parse_size(text)
    result = gx("explain", "--max-bytes", text, stdin=TRACEBACK)
    assert result.returncode == 2
    assert result.stderr.decode().startswith("gradexplain: error: --max-bytes")
    assert len(result.stderr.splitlines()) == 1


@pytest.mark.parametrize("args, expected", [
    ([], {"path": None, "fmt": "text"}),
    (["-"], {"path": "-"}),
    (["job.log", "-f", "json"], {"path": "job.log", "fmt": "json"}),
    (["--format=markdown", "--width", "60", "x"], {"fmt": "markdown", "width": 60}),
    (["--kb", "a", "--kb=b", "--color", "never"], {"kb": ["a", "b"], "color": "never"}),
    (["--max-bytes", "2G"], {"max_bytes": "2G"}),
])
def test_the_fast_path_reads_explains_options(args: list[str], expected: dict[str, object]
                                              ) -> None:
    options = entry.plain_explain(args)
    assert options is not None
    assert {key: options[key] for key in expected} == expected


@pytest.mark.parametrize("args", [["--help"], ["-h"], ["a", "b"], ["--width", "x"],
                                  ["--width", "20"], ["--format", "yaml"], ["--format"],
                                  ["--color", "pink"], ["--frobnicate"]])
def test_help_and_mistakes_go_to_the_full_cli(args: list[str]) -> None:
    assert entry.plain_explain(args) is None


def test_broken_entry_is_named_with_its_field(tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "bad-entry.yaml").write_text(
        MINIMAL_ENTRY.format(id="bad-entry", pattern="(a+)+$"), encoding="utf-8")
    result = gx("explain", "--kb", str(kb), stdin=TRACEBACK)
    assert result.returncode == 0 and result.stdout.startswith(b"nonscalar-backward")
    warning, = result.stderr.decode().splitlines()
    assert warning.startswith(f"gradexplain: warning: skipped entry: {kb}/bad-entry.yaml: "
                              "patterns[0].regex: unsafe regex")


@pytest.mark.parametrize("name, problem", [
    ("missing.log", "cannot read: no such file"),
    ("folder", "is a directory"),
    ("a-file/inside.log", "cannot read: no such file"),
])
def test_unreadable_inputs_are_one_line(tmp_path: Path, name: str, problem: str) -> None:
    (tmp_path / "folder").mkdir()
    (tmp_path / "a-file").write_bytes(b"x")
    result = gx("explain", str(tmp_path / name))
    assert result.returncode == 2
    line, = result.stderr.decode().splitlines()
    assert line.startswith(f"gradexplain: error: {tmp_path / name}: ") and problem in line


def test_permission_denied_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """(Tested in process: these tests may run as root, whom permissions do not stop.)"""
    log = tmp_path / "secret.log"
    log.write_bytes(TRACEBACK)

    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "open", refuse)
    with pytest.raises(app.UsageError, match=r"secret.log: cannot read: Permission denied$"):
        app.open_input(str(log), None)  # type: ignore[arg-type]
