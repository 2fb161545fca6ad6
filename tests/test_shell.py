"""`gradexplain init bash|zsh|fish` in real shells: the generated code is sourced by real
bash, zsh and fish processes (interactive ones on a pseudo-terminal where the shell's own
history and line editor matter), a failing torch script goes through `gx`, and the
explanation and exit status are checked. Sourcing must start no Python: fake `python` and
`gradexplain` commands on PATH record any call."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import GRADEXPLAIN, child_env

from gradexplain import __version__

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "examples" / "seed.py"
VENV_BIN = str(Path(GRADEXPLAIN).parent)
SHELLS = ("bash", "zsh", "fish")

FAIL = "import sys\nprint('argv', sys.argv, flush=True)\n" + SEED.read_text()
FAIL_LINE = FAIL.splitlines().index("A.backward()") + 1
# sys.orig_argv tells a run through `gradexplain run` (python -m gradexplain.bootstrap
# SCRIPT ...) from a plain one, whatever the script imports
PROBE = """\
import sys
mode = "wrapped" if "gradexplain.bootstrap" in sys.orig_argv else "plain"
print(mode, sys.argv[1:])
"""


def shell_path(shell: str) -> str:
    found = shutil.which(shell)
    if found is None:
        assert shell != "bash", "bash must be tested: install it"
        pytest.skip(f"{shell} is not installed (Debian: apt-get install {shell})")
    return found


def shell_env(home: Path, path: str | None = None) -> dict[str, str]:
    env = child_env()
    for name in ("GRADEXPLAIN", "BASH_ENV", "ENV", "PROMPT_COMMAND", "HISTFILE", "ZDOTDIR"):
        env.pop(name, None)
    env.update(HOME=str(home), ZDOTDIR=str(home), TERM="xterm",
               XDG_CONFIG_HOME=str(home / ".config"), XDG_DATA_HOME=str(home / ".local/share"),
               PATH=path or f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}")
    return env


@pytest.fixture(scope="module")
def init_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real output of `gradexplain init SHELL [--wrap-python]`, saved as files."""
    folder = tmp_path_factory.mktemp("init")
    for shell in SHELLS:
        for wrap in ((), ("--wrap-python",)):
            result = subprocess.run([GRADEXPLAIN, "init", shell, *wrap], capture_output=True,
                                    text=True, env=child_env(), timeout=60)
            assert result.returncode == 0 and result.stderr == "", result.stderr
            (folder / f"{shell}{''.join(wrap)}").write_text(result.stdout)
    return folder


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "home").mkdir()
    work = tmp_path / "work"
    work.mkdir()
    (work / "fail.py").write_text(FAIL)
    (work / "probe.py").write_text(PROBE)
    (work / "probe").write_text(PROBE)  # a script not named *.py
    return work


def run_in(shell: str, script: str, cwd: Path, stdin: str | None = None,
           env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """A non-interactive shell running `script` (stdin /dev/null unless given)."""
    return subprocess.run([shell_path(shell), "-c", script], cwd=cwd, capture_output=True,
                          text=True, input=stdin,
                          stdin=subprocess.DEVNULL if stdin is None else None,
                          env=env or shell_env(cwd.parent / "home"), timeout=300)


# --- the command itself -------------------------------------------------------------------

def test_init_prints_each_shell_its_code(init_dir: Path) -> None:
    bash, zsh, fish = ((init_dir / shell).read_text() for shell in SHELLS)
    assert "function gx {" in bash and "function gx {" in zsh and "function gx " in fish
    # typer's completion scripts, for the gradexplain command
    assert "complete -o default -F _gradexplain_completion gradexplain" in bash
    assert "compdef _gradexplain_completion gradexplain" in zsh
    assert "complete --command gradexplain" in fish
    for shell, text in zip(SHELLS, (bash, zsh, fish), strict=True):
        assert "function python" not in text
        assert "function python" in (init_dir / f"{shell}--wrap-python").read_text()


def test_init_unknown_shell_is_a_usage_error() -> None:
    def init(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([GRADEXPLAIN, "init", *args], capture_output=True, text=True,
                              env=child_env(), timeout=60)

    unknown = init("tcsh")
    assert (unknown.returncode, unknown.stdout) == (2, "")
    assert unknown.stderr == ("gradexplain: error: unknown shell 'tcsh': use one of bash, "
                              "zsh, fish\n")
    missing = init()
    assert (missing.returncode, missing.stdout) == (2, "")
    assert "Missing argument" in missing.stderr and "Traceback" not in missing.stderr


# --- sourcing is free -----------------------------------------------------------------------

FAKE = """#!/bin/sh
echo "$(basename "$0") $*" >> {log}
"""


@pytest.mark.parametrize("shell", SHELLS)
def test_sourcing_starts_no_python(shell: str, init_dir: Path, project: Path) -> None:
    shell_path(shell)
    fakes = project.parent / "fakes"
    fakes.mkdir()
    log = project.parent / "calls.log"
    log.write_text("")
    names = ["python", "python3", f"python3.{sys.version_info.minor}", "gradexplain"]
    for name in names:
        (fakes / name).write_text(FAKE.format(log=log))
        (fakes / name).chmod(0o755)
    env = shell_env(project.parent / "home", path=f"{fakes}:/usr/bin:/bin")
    init = init_dir / f"{shell}--wrap-python"
    setup = {"bash": f"source {init}",
             # as in a real ~/.zshrc: compinit first, so that the completion is registered
             "zsh": f"autoload -Uz compinit; compinit -u -d {project.parent}/zcd; source {init}",
             "fish": f"source {init}"}[shell]
    result = run_in(shell, f"{setup}; echo sourced", project, env=env)
    assert result.returncode == 0 and result.stdout == "sourced\n", result.stderr
    assert result.stderr == ""
    assert log.read_text() == ""
    # the fakes are the ones the shell finds: calling the wrapper reaches them
    called = run_in(shell, f"{setup}; python probe.py; python -c pass", project, env=env)
    assert called.returncode == 0, called.stderr
    assert log.read_text() == "gradexplain run probe.py\npython -c pass\n"


# --- gx with a pipe or a file ---------------------------------------------------------------

@pytest.mark.parametrize("shell", SHELLS)
def test_gx_explains_a_pipe(shell: str, init_dir: Path, project: Path) -> None:
    init = init_dir / shell
    result = run_in(shell, f"source {init}; python fail.py 2>&1 | gx", project)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # zsh without compinit too: the completion waits for it
    assert result.stdout.startswith("nonscalar-backward:")
    assert f"fail.py:{FAIL_LINE}" in result.stdout and "+ A.sum().backward()" in result.stdout
    assert "Facts from the run" not in result.stdout  # explained from text, not re-run
    # gx returns explain's status: 1 when nothing is explained
    nothing = run_in(shell, f"source {init}; echo all good | gx", project)
    assert nothing.returncode == 1 and "No traceback found" in nothing.stdout
    # a log file, as an argument or redirected
    (project / "job.log").write_text(run_in(shell, "python fail.py 2>&1", project).stdout)
    for call in ("gx job.log", "gx < job.log", "gx --format json job.log"):
        logged = run_in(shell, f"source {init}; {call}", project)
        assert logged.returncode == 0 and "nonscalar-backward" in logged.stdout, call


# --- gx re-running the shell's last command -----------------------------------------------

def seed_history(shell: str, home: Path, lines: list[str]) -> str:
    """Write a history file the shell reads; return the code that loads it, if any."""
    if shell == "bash":
        (home / "history").write_text("".join(f"{line}\n" for line in lines))
        return f"HISTFILE={home}/history; set -o history; history -r; "
    assert shell == "fish"
    folder = home / ".local/share/fish"
    folder.mkdir(parents=True)
    (folder / "fish_history").write_text("".join(f"- cmd: {line}\n  when: {1700000000 + i}\n"
                                                 for i, line in enumerate(lines)))
    return ""


@pytest.mark.parametrize("shell", ["bash", "fish"])  # zsh: see the terminal session below
def test_gx_reruns_the_last_python_command_without_asking_off_a_terminal(
        shell: str, init_dir: Path, project: Path) -> None:
    home = project.parent / "home"
    load = seed_history(shell, home, ["ls", "python -u fail.py --lr 3", "gx"])
    result = run_in(shell, f"{load}source {init_dir / shell}; gx", project)
    assert result.returncode == 1  # the script's own status
    assert "Re-run" not in result.stderr  # stdin is not a terminal: no question
    assert "gx: PYTHONUNBUFFERED=1 gradexplain run fail.py --lr 3\n" in result.stderr
    assert result.stdout == "argv ['fail.py', '--lr', '3']\n"
    assert "RuntimeError: grad can be implicitly created only for scalar outputs" in result.stderr
    assert "nonscalar-backward:" in result.stderr
    assert "Facts from the run" in result.stderr  # gradexplain run, not explain


@pytest.mark.parametrize("shell", ["bash", "fish"])
@pytest.mark.parametrize(("history", "message"), [
    (["python fail.py", "ls -l"], "gx: the last command is not `python script.py ...`: ls -l"),
    (["python -m fail"], "gx: the last command is not `python script.py ...`: python -m fail"),
    (["python -X dev fail.py"], "not `python script.py ...`: python -X dev fail.py"),
    ([], "gx: no earlier command in this shell's history to re-run"),
])
def test_gx_without_a_python_run_says_what_it_does(shell: str, history: list[str],
                                                   message: str, init_dir: Path,
                                                   project: Path) -> None:
    load = seed_history(shell, project.parent / "home", history)
    result = run_in(shell, f"{load}source {init_dir / shell}; gx", project)
    assert result.returncode == 2
    assert result.stdout == "" and "argv" not in result.stderr  # nothing was run
    assert message in result.stderr
    assert "python train.py 2>&1 | gx" in result.stderr  # the help


ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"
                  r"|\x1b[()][0-9A-Za-z]|\x1b[=>]|[\r\x07]")
PROMPT = re.compile(r"<<(\d+):(\d+)>>")


class Terminal:
    """An interactive shell on a pseudo-terminal, driven as a user would: type a line, wait
    for the next prompt, which shows a command count and the last exit status."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: Path) -> None:
        pid, fd = pty.fork()
        if pid == 0:  # the child: becomes the shell
            try:
                fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 250, 0, 0))
                os.chdir(cwd)
                os.execve(argv[0], argv, env)
            finally:
                os._exit(127)
        self.pid, self.fd = pid, fd
        self.raw = b""
        self.text = ""
        self.count = int(self.expect(PROMPT, 0, 60).group(1))

    def read(self, timeout: float) -> None:
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if ready:
            try:
                self.raw += os.read(self.fd, 65536)
            except OSError:  # the shell is gone
                time.sleep(timeout)
            self.text = ANSI.sub("", self.raw.decode(errors="replace"))

    def expect(self, pattern: re.Pattern[str], start: int, timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while (found := pattern.search(self.text, start)) is None:
            assert time.monotonic() < deadline, f"no {pattern.pattern!r} in:\n{self.text[start:]}"
            self.read(0.2)
        return found

    def type(self, keys: str) -> int:
        start = len(self.text)
        os.write(self.fd, keys.encode())
        return start

    def command(self, line: str, answer: str | None = None) -> tuple[str, int]:
        """Type `line`; answer gx's question if given; return the output and the status."""
        start = self.type(line + "\n")
        if answer is not None:
            asked = self.expect(re.compile(r"Re-run .* through gradexplain\? \[Y/n\]"), start, 120)
            self.type(answer + "\n")
            start = asked.start()
        self.count += 1
        prompt = self.expect(re.compile(rf"<<{self.count}:(\d+)>>"), start, 300)
        return self.text[start:prompt.start()], int(prompt.group(1))

    def close(self) -> None:
        os.write(self.fd, b"exit\n")
        deadline = time.monotonic() + 10
        while os.waitpid(self.pid, os.WNOHANG) == (0, 0):
            if time.monotonic() > deadline:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
                break
            self.read(0.1)
        os.close(self.fd)


RC_FILES = {
    "bash": (".bashrc", """\
HISTFILE=~/.bash_history
PROMPT_COMMAND='__rc=$?; __n=$((__n + 1))'
PS1='<<$__n:$__rc>> '
source {init}
"""),
    "zsh": (".zshrc", """\
HISTFILE=~/.zsh_history HISTSIZE=1000 SAVEHIST=1000
setopt PROMPT_SUBST
precmd() {{ __rc=$?; __n=$(( __n + 1 )); }}
PROMPT='<<${{__n}}:${{__rc}}>> '
autoload -Uz compinit && compinit -u -d ~/.zcompdump
source {init}
"""),
    "fish": (".config/fish/config.fish", """\
set -g __n 0
function fish_greeting; end
function fish_prompt; set -l rc $status; printf '<<%s:%s>> ' $__n $rc; end
function __count --on-event fish_postexec; set -g __n (math $__n + 1); end
source {init}
"""),
}


@pytest.fixture
def terminal(request: pytest.FixtureRequest, init_dir: Path, project: Path
             ) -> Iterator[Terminal]:
    shell = request.param
    home = project.parent / "home"
    name, text = RC_FILES[shell]
    (home / name).parent.mkdir(parents=True, exist_ok=True)
    (home / name).write_text(text.format(init=init_dir / shell))
    argv = {"bash": [shell_path("bash"), "--noprofile", "--rcfile", str(home / name), "-i"],
            "zsh": [shell_path("zsh"), "-i"],
            "fish": [shell_path("fish"), "-i"]}[shell]
    session = Terminal(argv, shell_env(home), project)
    yield session
    session.close()


@pytest.mark.parametrize("terminal", SHELLS, indirect=True)
def test_gx_in_an_interactive_shell(terminal: Terminal) -> None:
    output, status = terminal.command("python fail.py --lr 3")
    assert status == 1 and "RuntimeError" in output and "nonscalar-backward" not in output

    # asked first on a terminal; "n" runs nothing
    output, status = terminal.command("gx", answer="n")
    assert "Re-run `python fail.py --lr 3` through gradexplain? [Y/n]" in output
    assert status == 1 and "argv" not in output

    # Enter means yes: the last python command (earlier gx calls are skipped) is re-run
    # through gradexplain run, with the same arguments, and explained with live facts
    output, status = terminal.command("gx", answer="")
    assert status == 1
    assert "argv ['fail.py', '--lr', '3']" in output
    assert "nonscalar-backward: backward() called on a tensor" in output
    assert "Facts from the run" in output

    # stdin not a terminal: no question
    output, status = terminal.command("gx < /dev/null")
    assert status == 1 and "Re-run" not in output
    assert "gx: gradexplain run fail.py --lr 3" in output and "Facts from the run" in output

    # TAB completes gradexplain's own options (typer's completion, asked of gradexplain)
    output, status = terminal.command("gradexplain --vers\t")
    assert status == 0 and f"gradexplain {__version__}" in output

    output, status = terminal.command("true")
    output, status = terminal.command("gx")
    assert status == 2 and "the last command is not `python script.py ...`: true" in output


# --- --wrap-python ----------------------------------------------------------------------

WRAP_CASES = [
    # (command, expected stdout, expected status)
    ("python probe.py 'a b' c", "wrapped ['a b', 'c']", 0),
    ("python3 probe.py x", "wrapped ['x']", 0),
    ("python -c 'import probe' x", "plain ['x']", 0),
    ("python -m probe x", "plain ['x']", 0),
    ("python < probe.py", "plain []", 0),  # no arguments: the REPL reading stdin
    ("python -u probe.py x", "plain ['x']", 0),
    ("python probe x", "plain ['x']", 0),  # not a .py file
    ("command python probe.py x", "plain ['x']", 0),
    ("GRADEXPLAIN=0 python probe.py x", "plain ['x']", 0),
    ("python missing.py", "", 2),  # python's own error
]


@pytest.mark.parametrize("shell", SHELLS)
def test_wrap_python_wraps_only_script_runs(shell: str, init_dir: Path, project: Path) -> None:
    init = init_dir / f"{shell}--wrap-python"
    for command, stdout, status in WRAP_CASES:
        result = run_in(shell, f"source {init}; {command}", project)
        assert (result.stdout.strip(), result.returncode) == (stdout, status), command
    missing = run_in(shell, f"source {init}; python missing.py", project)
    assert "can't open file" in missing.stderr and "gradexplain" not in missing.stderr
    failed = run_in(shell, f"source {init}; python fail.py", project)
    assert failed.returncode == 1
    assert failed.stderr.index("RuntimeError:") < failed.stderr.index("nonscalar-backward:")
    assert "Facts from the run" in failed.stderr


@pytest.mark.parametrize("shell", SHELLS)
def test_wrap_python_steps_aside_for_another_environment(shell: str, init_dir: Path,
                                                         project: Path) -> None:
    """`gradexplain run` uses gradexplain's interpreter; a `python` from another folder
    (another venv, conda env) must run the script itself."""
    other = project.parent / "other-env"
    other.mkdir()
    (other / "python").symlink_to(sys.executable)
    init = init_dir / f"{shell}--wrap-python"
    home = project.parent / "home"
    for path in (f"{other}:{VENV_BIN}:{os.environ['PATH']}",  # gradexplain elsewhere
                 f"{other}:/usr/bin:/bin"):  # no gradexplain at all
        result = run_in(shell, f"source {init}; python probe.py x", project,
                        env=shell_env(home, path=path))
        assert (result.stdout, result.returncode) == ("plain ['x']\n", 0), result.stderr


# --- completion ------------------------------------------------------------------------

def test_bash_completion_lists_commands(init_dir: Path, project: Path) -> None:
    script = (f"source {init_dir / 'bash'}; COMP_WORDS=(gradexplain ''); COMP_CWORD=1; "
              "_gradexplain_completion gradexplain; printf '%s\\n' \"${COMPREPLY[@]}\"")
    result = run_in("bash", script, project)
    assert result.returncode == 0, result.stderr
    assert {"explain", "run", "init", "list", "show", "kb"} <= set(result.stdout.split())


def test_fish_completion_lists_commands(init_dir: Path, project: Path) -> None:
    result = run_in("fish", f"source {init_dir / 'fish'}; complete -C 'gradexplain '", project)
    assert result.returncode == 0, result.stderr
    offered = {line.split("\t")[0] for line in result.stdout.splitlines()}
    assert {"explain", "run", "init", "list", "show", "kb"} <= offered


@pytest.mark.parametrize("args", [["bash"], ["zsh", "--wrap-python"], ["--wrap-python", "fish"]])
def test_fast_init_prints_what_the_full_cli_prints(args: list[str]) -> None:
    """`gradexplain init SHELL` skips the CLI framework (an rc file may eval it at every
    shell start); it must print exactly what the command line interface prints."""
    import subprocess
    import sys

    fast = subprocess.run([GRADEXPLAIN, "init", *args], capture_output=True, text=True,
                          timeout=60)
    full = subprocess.run([sys.executable, "-c", "from gradexplain.cli import main; main()",
                           "init", *args], capture_output=True, text=True, timeout=60)
    assert fast.returncode == full.returncode == 0
    assert fast.stdout == full.stdout and "gx" in fast.stdout
