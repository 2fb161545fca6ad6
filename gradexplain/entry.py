"""The console script. `gradexplain run SCRIPT ...` without options must cost what Python
costs, so that plain case becomes the script's process before the CLI framework is even
imported; `gradexplain init SHELL`, which an rc file may eval at every shell start, is
answered without it too; everything else goes to the full command line interface."""

from __future__ import annotations

import os
import sys

from gradexplain import bootstrap


def main() -> None:
    args = sys.argv[1:]
    if len(args) >= 2 and args[0] == "run" and plain_run(args[1:]):
        env = dict(os.environ)
        env[bootstrap.EXPLAIN] = "1"
        os.execve(sys.executable, [sys.executable, "-m", "gradexplain.bootstrap", *args[1:]], env)
    if args[:1] == ["init"] and plain_init(args[1:]):
        from gradexplain.shellinit import init_script

        shell = next(arg for arg in args[1:] if not arg.startswith("-"))
        sys.stdout.write(init_script(shell, "--wrap-python" in args))
        return
    from gradexplain.cli import main as full_main

    full_main()


def plain_run(target: list[str]) -> bool:
    """`run SCRIPT [ARGS]` or `run -m MODULE [ARGS]`: no option of ours to parse."""
    if target[0] == "-m":
        return len(target) >= 2 and not target[1].startswith("-")
    return not target[0].startswith("-") and os.path.isfile(target[0])


def plain_init(target: list[str]) -> bool:
    """`init SHELL [--wrap-python]` for a known shell; help and mistakes go to the CLI."""
    from gradexplain.shellinit import SHELLS

    shells = [arg for arg in target if arg in SHELLS]
    return len(shells) == 1 and set(target) - set(shells) <= {"--wrap-python"}
