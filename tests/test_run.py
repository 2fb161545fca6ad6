"""`gradexplain run` behaves exactly like `python` until an error, then explains it with
live facts; `--fix` repairs a copy (the script or a module it imports), and `--write`
changes the user's file only after a successful fixed run, keeping a backup."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import GRADEXPLAIN, KNOWLEDGE, child_env

ROOT = KNOWLEDGE.parent
SEED = ROOT / "examples" / "seed.py"
PROBE = """\
import os, sys
import helper
print("argv", sys.argv)
print("file", __file__, __name__, sys.path[0] == os.path.dirname(os.path.abspath(__file__)))
print("data", open("data.txt").read().strip())
print("stdin", sys.stdin.read().strip())
print("helper", helper.VALUE)
sys.stderr.write("to stderr\\n")
code = int(sys.argv[1])
if code == 99:
    raise ValueError("not an autograd error")
sys.exit(code)
"""


def run(args: list[str], cwd: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, input=stdin, capture_output=True, text=True, cwd=cwd,
                          env=child_env(), timeout=300)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "probe.py").write_text(PROBE)
    (tmp_path / "pkg" / "helper.py").write_text("VALUE = 42\n")
    (tmp_path / "data.txt").write_text("relative read works\n")
    return tmp_path


@pytest.mark.parametrize("code", ["0", "1", "3", "99"])
def test_run_is_transparent(project: Path, code: str) -> None:
    script = ["pkg/probe.py", code, "--lr", "3e-4"]
    plain = run([sys.executable, *script], project, stdin="hello")
    wrapped = run([GRADEXPLAIN, "run", *script], project, stdin="hello")
    assert wrapped.returncode == plain.returncode == (1 if code == "99" else int(code))
    assert wrapped.stdout == plain.stdout
    assert wrapped.stderr == plain.stderr
    assert "argv ['pkg/probe.py', '" + code + "', '--lr', '3e-4']" in wrapped.stdout
    assert "helper 42" in wrapped.stdout and "stdin hello" in wrapped.stdout


def test_run_module_is_transparent(project: Path) -> None:
    (project / "pkg" / "__init__.py").write_text("")
    (project / "pkg" / "__main__.py").write_text("import sys\nprint('main', sys.argv[1:])\n")
    plain = run([sys.executable, "-m", "pkg", "a", "--b"], project)
    wrapped = run([GRADEXPLAIN, "run", "-m", "pkg", "a", "--b"], project)
    assert wrapped.returncode == plain.returncode == 0
    assert wrapped.stdout == plain.stdout == "main ['a', '--b']\n"


def test_keyboard_interrupt_ends_both_the_same_way(tmp_path: Path) -> None:
    script = tmp_path / "stop.py"
    script.write_text("print('working', flush=True)\nraise KeyboardInterrupt\n")
    plain = run([sys.executable, str(script)], tmp_path)
    wrapped = run([GRADEXPLAIN, "run", str(script)], tmp_path)
    assert plain.returncode == wrapped.returncode == -signal.SIGINT
    assert wrapped.stdout == plain.stdout
    assert wrapped.stderr == plain.stderr


def test_run_explains_with_live_facts(tmp_path: Path) -> None:
    result = run([GRADEXPLAIN, "run", str(SEED)], tmp_path)
    assert result.returncode == 1
    traceback_end = result.stderr.index("RuntimeError: grad can be implicitly created")
    explanation = result.stderr[traceback_end:]
    assert "nonscalar-backward:" in explanation
    assert "Facts from the run" in explanation
    assert "`A` is a float32 tensor of shape (2,) with 2 elements on cpu" in explanation
    assert "needs a tensor with exactly 1 element" in explanation
    assert "+ A.sum().backward()" in explanation


def test_run_json_out(tmp_path: Path) -> None:
    out = tmp_path / "explained.json"
    result = run([GRADEXPLAIN, "run", "--format", "json", "--json-out", str(out), str(SEED)],
                 tmp_path)
    assert result.returncode == 1 and result.stdout == ""
    data = json.loads(out.read_text())
    assert data["primary"]["id"] == "nonscalar-backward"
    facts = data["tracebacks"][-1]["facts"]
    assert facts["line"] == 10 and facts["tensors"]["A"]["shape"] == [2]
    assert facts["tensors"]["A"]["grad_fn"] == "MulBackward0"


def test_fix_seed_prints_the_right_gradients(tmp_path: Path) -> None:
    script = tmp_path / "seed.py"
    script.write_bytes(SEED.read_bytes())
    out = tmp_path / "fix.json"
    result = run([GRADEXPLAIN, "run", "--fix", "--yes", "--format", "json", "--json-out",
                  str(out), str(script)], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "tensor([8., 8.]) tensor([5., 5.])\n"
    assert "-A.backward()\n+A.sum().backward()" in result.stderr
    assert "1 backward call(s) completed; 2 of 2 leaf tensors" in result.stderr
    assert script.read_bytes() == SEED.read_bytes()
    fix = json.loads(out.read_text())["fix"]
    assert fix["id"] == "reduce-sum" and fix["applied"] and fix["rerun_exit"] == 0
    assert fix["grads"] == {"backward_calls": 1, "leaf_tensors": 2, "with_grad": 2,
                            "finite_grad": 2}


def test_fix_in_an_imported_module(tmp_path: Path) -> None:
    (tmp_path / "losses.py").write_text(
        "def step(x, w):\n    per_sample = (x * w) ** 2\n    per_sample.backward()\n"
        "    return w.grad\n")
    (tmp_path / "main.py").write_text(
        "import torch\nfrom losses import step\n"
        "w = torch.tensor([1.0, 2.0], requires_grad=True)\n"
        "print(step(torch.tensor([3.0, 4.0]), w))\n")
    original = (tmp_path / "losses.py").read_text()
    result = run([GRADEXPLAIN, "run", "--fix", "--yes", "main.py"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "tensor([18., 64.])\n"  # d/dw sum((x*w)^2) = 2 x^2 w
    assert "+++ b/losses.py" in result.stderr
    assert "+    per_sample.sum().backward()" in result.stderr
    assert (tmp_path / "losses.py").read_text() == original


def test_fix_refuses_when_unsure(tmp_path: Path) -> None:
    script = tmp_path / "two.py"
    script.write_text("import torch\nx = torch.ones(2, requires_grad=True)\n"
                      "(x * 2).backward() if x.sum() > 0 else (x * 3).backward()\n")
    result = run([GRADEXPLAIN, "run", "--fix", "--yes", str(script)], tmp_path)
    assert result.returncode == 1
    assert "no automatic fix applied" in result.stderr
    assert "exactly one backward() call" in result.stderr


def test_write_round_trip_keeps_a_backup(tmp_path: Path) -> None:
    script = tmp_path / "seed.py"
    script.write_bytes(SEED.read_bytes())
    script.chmod(0o750)
    result = run([GRADEXPLAIN, "run", "--fix", "--yes", "--write", str(script)], tmp_path)
    assert result.returncode == 0, result.stderr
    fixed = SEED.read_text().replace("A.backward()", "A.sum().backward()")
    assert script.read_text() == fixed
    assert (tmp_path / "seed.py.bak").read_bytes() == SEED.read_bytes()
    assert script.stat().st_mode & 0o777 == 0o750
    (tmp_path / "seed.py").write_bytes(SEED.read_bytes())
    again = run([GRADEXPLAIN, "run", "--fix", "--yes", "--write", str(script)], tmp_path)
    assert again.returncode == 0
    assert (tmp_path / "seed.py.bak").read_bytes() == SEED.read_bytes()
    assert (tmp_path / "seed.py.bak.1").read_bytes() == SEED.read_bytes()


def test_write_keeps_crlf_line_endings(tmp_path: Path) -> None:
    from gradexplain.runfix import write_with_backup

    path = tmp_path / "w.py"
    path.write_bytes(b"a = 1\r\nb = 2\r\n")
    backup = write_with_backup(path, "a = 1\nb = 3\n", ".orig")
    assert path.read_bytes() == b"a = 1\r\nb = 3\r\n"
    assert backup.read_bytes() == b"a = 1\r\nb = 2\r\n"


def test_interrupted_write_leaves_the_original(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from gradexplain import runfix

    path = tmp_path / "w.py"
    path.write_text("original\n")

    def crash(src: str, dst: str) -> None:
        raise KeyboardInterrupt  # killed between writing the copy and renaming it

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        runfix.write_with_backup(path, "changed\n", ".bak")
    assert path.read_text() == "original\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.py", "w.py.bak"]


def test_run_usage_errors(tmp_path: Path) -> None:
    missing = run([GRADEXPLAIN, "run", "nope.py"], tmp_path)
    assert missing.returncode == 2 and "nope.py: no such script" in missing.stderr
    write = run([GRADEXPLAIN, "run", "--write", "x.py"], tmp_path)
    assert write.returncode == 2 and "--write and --force need --fix" in write.stderr
    json_only = run([GRADEXPLAIN, "run", "--format", "json", str(SEED)], tmp_path)
    assert json_only.returncode == 2 and "--json-out" in json_only.stderr


def test_unsafe_fix_needs_the_option(tmp_path: Path) -> None:
    case = KNOWLEDGE / "backward" / "no-grad-fn.case.py"
    script = tmp_path / "train.py"
    script.write_bytes(case.read_bytes())
    safe_only = run([GRADEXPLAIN, "run", "--fix", "--yes", str(script)], tmp_path)
    assert safe_only.returncode == 1
    assert "undecorate-helper is unsafe" in safe_only.stderr
    unsafe = run([GRADEXPLAIN, "run", "--fix", "--yes", "--unsafe-fixes", str(script)], tmp_path)
    assert unsafe.returncode == 0, unsafe.stderr
    assert "-@torch.no_grad()" in unsafe.stderr
    assert "3 backward call(s) completed" in unsafe.stderr


def test_fix_loop_repairs_one_error_after_another(tmp_path: Path) -> None:
    script = tmp_path / "twice.py"
    script.write_text("import torch\nx = torch.tensor([1.0, 2.0], requires_grad=True)\n"
                      "A = x * 3\nA.backward()\nprint(A.numpy())\nprint(x.grad)\n")
    result = run([GRADEXPLAIN, "run", "--fix", "--yes", str(script)], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("gradexplain: fix ") == 2
    assert "+A.sum().backward()" in result.stderr and "+print(A.detach().numpy())" in result.stderr
    assert result.stdout == "[3. 6.]\ntensor([3., 3.])\n"


def test_grad_mode_fact(tmp_path: Path) -> None:
    script = tmp_path / "eval_step.py"
    script.write_text("import torch\nw = torch.ones(2, requires_grad=True)\n"
                      "with torch.no_grad():\n    loss = (w * 2).sum()\n    loss.backward()\n")
    out = tmp_path / "facts.json"
    result = run([GRADEXPLAIN, "run", str(script)], tmp_path)
    assert "ran with grad mode off" in result.stderr and "starting at line 3" in result.stderr
    assert "`loss` is a float32 tensor of shape () with 1 element on cpu, does not require grad" \
        in result.stderr
    run([GRADEXPLAIN, "run", "--format", "json", "--json-out", str(out), str(script)], tmp_path)
    facts = json.loads(out.read_text())["tracebacks"][-1]["facts"]
    assert facts["grad_mode"] == {"enabled_after_failure": True, "off_block_line": 3}


def test_backward_twice_names_the_tensors_on_a_freed_graph(tmp_path: Path) -> None:
    script = tmp_path / "carry.py"
    script.write_text("import torch\nw = torch.ones(2, requires_grad=True)\nh = w * 1.0\n"
                      "for step in range(2):\n    h = h * w\n    loss = h.sum()\n"
                      "    loss.backward()\n")
    out = tmp_path / "facts.json"
    result = run([GRADEXPLAIN, "run", "--format", "json", "--json-out", str(out), str(script)],
                 tmp_path)
    assert result.returncode == 1
    data = json.loads(out.read_text())
    assert data["primary"]["id"] == "backward-twice"
    freed = data["tracebacks"][-1]["facts"]["freed_graph"]
    assert "h" in freed and "loss" in freed and "w" not in freed
