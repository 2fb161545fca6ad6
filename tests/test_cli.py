"""The real console script in a subprocess: exit statuses, formats, bad input, and the
promise that explain never imports torch."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CAPTURED, GRADEXPLAIN, KNOWLEDGE, child_env, run_script

SEED = KNOWLEDGE / "backward" / "nonscalar-backward.case.py"


def gx(*args: str, stdin: bytes | None = b"", env: dict[str, str] | None = None
       ) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([GRADEXPLAIN, *args], input=stdin, capture_output=True,
                            env=env or child_env(), timeout=60)
    return subprocess.CompletedProcess(result.args, result.returncode,
                                       result.stdout.decode(), result.stderr.decode())


@pytest.fixture(scope="module")
def seed_output() -> bytes:
    return run_script(SEED).stderr.encode()


def assert_clean_failure(result: subprocess.CompletedProcess[str], text: str) -> None:
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gradexplain: error: ") and text in lines[0]


def test_pipe_seed_into_explain(seed_output: bytes) -> None:
    result = gx("explain", stdin=seed_output)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("nonscalar-backward:")
    assert "\x1b[" not in result.stdout  # piped: plain text
    assert "nonscalar-backward.case.py:10" in result.stdout
    assert "+ A.sum().backward()" in result.stdout
    assert "+ A.backward(gradient=torch.ones_like(A))" in result.stdout
    assert result.stderr == ""


def test_file_dash_and_gzip(seed_output: bytes, tmp_path: Path) -> None:
    log = tmp_path / "job.log"
    log.write_bytes(b"step 1\n" * 1000 + seed_output)
    packed = tmp_path / "job.log.gz"
    packed.write_bytes(gzip.compress(log.read_bytes()))
    for args, stdin in (((str(log),), b""), (("-",), log.read_bytes()), ((str(packed),), b"")):
        result = gx("explain", *args, stdin=stdin)
        assert result.returncode == 0 and "nonscalar-backward" in result.stdout


def test_json_contract(seed_output: bytes) -> None:
    result = gx("explain", "--format", "json", stdin=b"noise\n" + seed_output)
    assert result.returncode == 0
    data = json.loads(result.stdout)
    assert data["schema"] == 1
    assert set(data) >= {"schema", "primary", "tracebacks"}
    primary = data["primary"]
    assert set(primary) >= {"id", "title", "traceback_index", "user_frame"}
    assert primary["id"] == "nonscalar-backward"
    tb = data["tracebacks"][primary["traceback_index"]]
    assert set(tb) >= {"exception", "frames", "user_frame", "matches"}
    assert tb["exception"] == {"type": "RuntimeError",
                               "message": "grad can be implicitly created only for scalar outputs"}
    for frame in tb["frames"]:
        assert set(frame) >= {"file", "line", "function", "code", "user"}
        assert isinstance(frame["user"], bool)
    assert [f["user"] for f in tb["frames"]] == [True, False, False, False]
    assert tb["user_frame"]["line"] == 10 and primary["user_frame"] == tb["user_frame"]
    assert tb["matches"][0]["id"] == "nonscalar-backward"
    assert isinstance(tb["matches"][0]["score"], float)


def test_json_when_nothing_matches() -> None:
    text = (CAPTURED / "mat1-mat2-tail-fragment.txt").read_bytes()
    result = gx("explain", "-f", "json", stdin=text)
    assert result.returncode == 1
    data = json.loads(result.stdout)
    assert data["primary"] is None and data["tracebacks"][0]["matches"] == []


def test_markdown_format(seed_output: bytes) -> None:
    result = gx("explain", "--format", "markdown", stdin=seed_output)
    assert result.returncode == 0
    assert result.stdout.startswith("# nonscalar-backward")
    assert "```diff\n- A.backward()" in result.stdout


@pytest.mark.parametrize(("stdin", "status", "text"), [
    (b"", 1, "No traceback found"),
    (b"epoch 1 loss 0.1\n" * 100, 1, "No traceback found"),
    (b"RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB", 1,
     "Not an autograd error"),
    (bytes(range(256)) * 50, 1, "No traceback found"),
])
def test_nothing_to_explain(stdin: bytes, status: int, text: str) -> None:
    result = gx("explain", stdin=stdin)
    assert result.returncode == status
    assert text in result.stdout
    assert result.stderr == ""


def test_bad_input_is_one_line_and_status_2(tmp_path: Path) -> None:
    assert_clean_failure(gx("explain", str(tmp_path / "missing.log")), "cannot read")
    assert_clean_failure(gx("explain", str(tmp_path)), "is a directory")
    assert_clean_failure(gx("explain", "--format", "yaml", stdin=b"x"), "--format")
    assert_clean_failure(gx("explain", "--color", "pink", stdin=b"x"), "--color")
    assert_clean_failure(gx("show", "no-such-entry"), "no entry 'no-such-entry'")
    assert_clean_failure(gx("explain", "--kb", str(tmp_path / "nope"), stdin=b"x"), "--kb")
    unknown = gx("explain", "--frobnicate")
    assert unknown.returncode == 2 and "Traceback" not in unknown.stderr


def test_color_always_and_never(seed_output: bytes) -> None:
    coloured = gx("explain", "--color", "always", stdin=seed_output)
    assert coloured.returncode == 0 and "\x1b[3" in coloured.stdout  # a colour, not only bold
    never = gx("explain", "--color", "never", stdin=seed_output)
    assert "\x1b[" not in never.stdout


def on_terminal(args: list[str], stdin_file: Path | None, env: dict[str, str]) -> str:
    """Run with stdout (and stdin, without a file) on a pseudo-terminal, as from a shell."""
    import pty

    leader, follower = pty.openpty()
    stdin = stdin_file.open("rb") if stdin_file else follower
    process = subprocess.Popen([GRADEXPLAIN, *args], stdin=stdin, stdout=follower,
                               stderr=follower, env=env)
    os.close(follower)
    if stdin_file:
        stdin.close()  # type: ignore[union-attr]
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    process.wait(timeout=60)
    os.close(leader)
    return b"".join(chunks).decode("utf-8", "replace")


def test_terminal_gets_rich_output_unless_no_color(seed_output: bytes, tmp_path: Path) -> None:
    log = tmp_path / "seed.log"
    log.write_bytes(seed_output)
    env = child_env()
    env.pop("NO_COLOR", None)
    env.update(TERM="xterm-256color", COLUMNS="100")
    rich_output = on_terminal(["explain", str(log)], log, env)
    assert "\x1b[" in rich_output and "A.sum().backward()" in rich_output
    env["NO_COLOR"] = "1"
    plain = on_terminal(["explain", str(log)], log, env)
    assert "\x1b[" not in plain and "+ A.sum().backward()" in plain


def test_list_show_version_help() -> None:
    listing = gx("list")
    assert listing.returncode == 0
    for entry_id in ("nonscalar-backward", "device-mismatch"):
        assert entry_id in listing.stdout
    entries = json.loads(gx("list", "--format", "json").stdout)["entries"]
    assert {e["id"] for e in entries} >= {"nonscalar-backward"}
    shown = gx("show", "nonscalar-backward")
    assert shown.returncode == 0 and "A complex scalar" in shown.stdout
    assert gx("--version").stdout.startswith("gradexplain ")
    helped = gx("explain", "--help")
    assert helped.returncode == 0 and "--format" in helped.stdout
    assert gx().returncode in (0, 2)


def test_python_dash_m(seed_output: bytes) -> None:
    result = subprocess.run([sys.executable, "-m", "gradexplain", "explain"], input=seed_output,
                            capture_output=True, env=child_env(), timeout=60)
    assert result.returncode == 0 and b"nonscalar-backward" in result.stdout


def test_explain_does_not_import_torch(seed_output: bytes) -> None:
    probe = ("import sys\nfrom gradexplain import cli\nsys.argv = ['gradexplain', 'explain']\n"
             "try:\n    cli.main()\nexcept SystemExit:\n    pass\n"
             "heavy = sorted(m for m in ('torch', 'numpy', 'libcst', 'rich') if m in sys.modules)\n"
             "print('HEAVY', heavy, file=sys.stderr)\n")
    result = subprocess.run([sys.executable, "-c", probe], input=seed_output,
                            capture_output=True, env=child_env(), timeout=60)
    assert b"nonscalar-backward" in result.stdout
    assert b"HEAVY ['rich']" in result.stderr or b"HEAVY []" in result.stderr
    assert b"torch" not in result.stderr.split(b"HEAVY")[1]


def test_terminal_without_input_is_usage_error() -> None:
    output = on_terminal(["explain"], None, child_env())
    assert "gradexplain: error: no input" in output and "Traceback" not in output


def test_readme_demo_command() -> None:
    """The README's first quick-start command explains the bundled example."""
    root = KNOWLEDGE.parent
    result = subprocess.run([str(root / "scripts" / "demo")], capture_output=True, text=True,
                            env=child_env(), cwd=root, timeout=600)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("nonscalar-backward:")
    assert "examples/seed.py:10" in result.stdout
    assert "+ A.sum().backward()" in result.stdout
    assert "+ A.backward(gradient=torch.ones_like(A))" in result.stdout
