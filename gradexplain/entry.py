"""The console script. `gradexplain run SCRIPT ...` without options must cost what Python
costs, so that plain case becomes the script's process before the CLI framework is even
imported; `gradexplain explain`, run after every crash, and `gradexplain init SHELL`, which
an rc file may eval at every shell start, are answered without it too (the framework alone
costs more than the whole explanation). Everything else, help and mistakes included, goes
to the full command line interface, which owns the messages."""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # importing typing costs 10 ms; annotations are strings
if TYPE_CHECKING:
    from typing import Any

# explain's options: name -> (keyword, how to read the value)
EXPLAIN_OPTIONS = {"--format": ("fmt", str), "-f": ("fmt", str), "--color": ("color", str),
                   "--width": ("width", int), "--kb": ("kb", str),
                   "--max-bytes": ("max_bytes", str)}


def main() -> None:
    args = sys.argv[1:]
    if len(args) >= 2 and args[0] == "run" and plain_run(args[1:]):
        from gradexplain import bootstrap

        env = dict(os.environ)
        env[bootstrap.EXPLAIN] = "1"
        os.execve(sys.executable, [sys.executable, "-m", "gradexplain.bootstrap", *args[1:]], env)
    if args[:1] == ["init"] and plain_init(args[1:]):
        from gradexplain.shellinit import init_script

        shell = next(arg for arg in args[1:] if not arg.startswith("-"))
        sys.stdout.write(init_script(shell, "--wrap-python" in args))
        return
    options = plain_explain(args[1:]) if args[:1] == ["explain"] else None
    if options is not None:
        sys.exit(explain(**options))
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


def plain_explain(target: list[str]) -> dict[str, Any] | None:
    """The options of `explain [PATH|-] [--format F] [--color C] [--width N] [--kb DIR]...`
    when every one is well formed; None sends the command line to the full CLI."""
    from gradexplain.app import COLORS, DEFAULT_MAX_BYTES, FORMATS, WIDTHS

    options: dict[str, Any] = {"path": None, "fmt": "text", "color": "auto", "width": None,
                               "kb": [], "max_bytes": DEFAULT_MAX_BYTES}
    rest = list(target)
    while rest:
        arg = rest.pop(0)
        name, equals, value = arg.partition("=")
        if name in EXPLAIN_OPTIONS:
            if not equals:
                if not rest:
                    return None
                value = rest.pop(0)
            key, kind = EXPLAIN_OPTIONS[name]
            if kind is int and not value.isdigit():
                return None
            if key == "kb":
                options["kb"].append(value)
            else:
                options[key] = kind(value)
        elif (arg == "-" or not arg.startswith("-")) and options["path"] is None:
            options["path"] = arg
        else:
            return None
    valid = (options["fmt"] in FORMATS and options["color"] in COLORS
             and (options["width"] is None or options["width"] in WIDTHS))
    return options if valid else None


def explain(path: str | None, fmt: str, color: str, width: int | None, kb: list[str],
            max_bytes: str) -> int:
    from gradexplain import app

    app.tolerant_streams()
    output = app.Output(fmt, color, width, sys.stdout)
    return app.guarded(lambda: app.explain_command(path, output, kb, sys.stdin.buffer,
                                                   sys.stderr, max_bytes))
