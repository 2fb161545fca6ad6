"""The Python API, `gradexplain.install()` and the environment-wide .pth excepthook, with
real processes: a failing torch script, and a throwaway virtual environment."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import textwrap
import venv
from pathlib import Path

import pytest
from conftest import child_env

import gradexplain

FAILING = """\
import torch
x = torch.ones(3, requires_grad=True)
y = x * 2
y.backward()
"""
UNKNOWN = "raise ValueError('not an autograd error')\n"


def run(python: str, script: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([python, str(script)], capture_output=True, text=True,
                          cwd=script.parent, env={**child_env(), **env}, timeout=300)


def test_explain_text_returns_the_json_data() -> None:
    text = ('Traceback (most recent call last):\n  File "t.py", line 4, in <module>\n'
            "    y.backward()\nRuntimeError: grad can be implicitly created only for scalar "
            "outputs\n")
    data = gradexplain.explain_text(text)
    assert data["schema"] == 1
    assert data["primary"]["id"] == "nonscalar-backward"
    assert gradexplain.explain_text(b"\xff\xfe garbage")["primary"] is None


def test_explain_exception_adds_live_facts() -> None:
    torch = pytest.importorskip("torch")
    x = torch.ones(3, requires_grad=True)
    y = x * 2
    try:
        y.backward()
    except RuntimeError as error:
        data = gradexplain.explain_exception(error)
    traceback = data["tracebacks"][data["primary"]["traceback_index"]]
    assert data["primary"]["id"] == "nonscalar-backward"
    assert traceback["facts"]["tensors"]["y"]["shape"] == [3]


def test_install_explains_after_the_unchanged_traceback(tmp_path: Path) -> None:
    plain_script = tmp_path / "plain.py"
    plain_script.write_text(FAILING)
    hooked_script = tmp_path / "hooked.py"
    hooked_script.write_text("import gradexplain\ngradexplain.install()\n" + FAILING)
    plain = run(sys.executable, plain_script)
    hooked = run(sys.executable, hooked_script)
    assert hooked.returncode == plain.returncode == 1
    original = plain.stderr.replace("plain.py", "hooked.py").replace('line 4', 'line 6')
    assert hooked.stderr.startswith(original)
    assert "nonscalar-backward" in hooked.stderr[len(original):]
    off = run(sys.executable, hooked_script, GRADEXPLAIN="0")
    assert off.stderr == hooked.stderr[:len(original)]


def test_install_stays_quiet_for_unknown_errors(tmp_path: Path) -> None:
    script = tmp_path / "other.py"
    script.write_text("import gradexplain\ngradexplain.install()\n" + UNKNOWN)
    done = run(sys.executable, script)
    assert done.returncode == 1
    assert done.stderr.rstrip().endswith("ValueError: not an autograd error")


@pytest.fixture(scope="module")
def throwaway_env(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtual environment that sees this one's packages (torch, gradexplain)."""
    root = tmp_path_factory.mktemp("env")
    venv.EnvBuilder(with_pip=False).create(root)
    python = root / "bin" / "python"
    site_packages = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True).stdout.strip()
    ours = sysconfig.get_paths()["purelib"]
    # `00-` sorts first: the hook's .pth must find gradexplain importable
    (Path(site_packages) / "00-parent-env.pth").write_text(
        f"import site; site.addsitedir({ours!r})\n")
    return python


def test_pth_hook_enable_status_disable(throwaway_env: Path, tmp_path: Path) -> None:
    python = str(throwaway_env)
    script = tmp_path / "train.py"
    script.write_text(FAILING)
    before = run(python, script)
    assert "nonscalar-backward" not in before.stderr

    def hook(action: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([python, "-m", "gradexplain", "hook", action],
                              capture_output=True, text=True, env=child_env(), timeout=120)

    assert hook("status").returncode == 1
    enabled = hook("enable")
    assert enabled.returncode == 0 and "enabled" in enabled.stdout
    assert hook("status").returncode == 0
    after = run(python, script)
    assert after.returncode == 1
    assert after.stderr.startswith(before.stderr)  # the traceback is untouched
    assert "nonscalar-backward" in after.stderr
    assert run(python, script, GRADEXPLAIN="0").stderr == before.stderr
    assert hook("disable").returncode == 0
    assert run(python, script).stderr == before.stderr


def test_pth_hook_imports_nothing_at_start(throwaway_env: Path) -> None:
    python = str(throwaway_env)
    subprocess.run([python, "-m", "gradexplain", "hook", "enable"], check=True,
                   capture_output=True, env=child_env(), timeout=120)
    try:
        probe = textwrap.dedent("""\
            import sys
            print(sorted(m for m in sys.modules if m.startswith("gradexplain")))
            print("typing" in sys.modules, "torch" in sys.modules)
            print(getattr(sys.excepthook, "gradexplain", False))
            """)
        shown = subprocess.run([python, "-c", probe], capture_output=True, text=True,
                               env=child_env(), timeout=120).stdout.split("\n")
        assert shown[0] == "[]"  # the .pth stub imports nothing until an exception
        assert shown[1] == "False False"
        assert shown[2] == "True"
    finally:
        subprocess.run([python, "-m", "gradexplain", "hook", "disable"], check=True,
                       capture_output=True, env=child_env(), timeout=120)


def test_pth_line_survives_an_uninstalled_gradexplain(tmp_path: Path) -> None:
    """After `pip uninstall gradexplain` the line must not break every Python start."""
    from gradexplain.pthhook import PTH_LINE

    venv.EnvBuilder(with_pip=False).create(tmp_path / "bare")
    python = str(tmp_path / "bare" / "bin" / "python")
    site_packages = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True).stdout.strip()
    (Path(site_packages) / "gradexplain-hook.pth").write_text(PTH_LINE)
    probe = "import sys; print('gradexplain' in sys.modules)"
    done = subprocess.run([python, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "False" and done.stderr == ""
    crash = subprocess.run([python, "-c", "raise ValueError('plain')"], capture_output=True,
                           text=True, timeout=60)  # the stub falls back to Python's hook
    assert crash.stderr.startswith("Traceback") and crash.stderr.count("Traceback") == 1
