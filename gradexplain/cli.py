"""Command-line interface: parse options, call one function from app.py, map errors to
exit statuses. No parsing, matching or rendering logic lives here."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Annotated, NoReturn

import typer

from gradexplain import __version__, app, shellinit

HELP = """Explain PyTorch autograd errors: what happened, where in your code, why, and the fix.

Exit status: 0 explained; 1 no traceback found or none matched the knowledge base
(kb check: invalid entries); 2 bad usage, unreadable input or an internal error."""

cli = typer.Typer(help=HELP, no_args_is_help=True, add_completion=False,
                  context_settings={"help_option_names": ["-h", "--help"]})
kb_cli = typer.Typer(help="Work with knowledge-base entries (for people writing their own).",
                     no_args_is_help=True)
cli.add_typer(kb_cli, name="kb")
hook_cli = typer.Typer(help="The excepthook for every Python process of this environment "
                            "(a .pth file in its site-packages).", no_args_is_help=True)
cli.add_typer(hook_cli, name="hook")

KbOption = Annotated[list[str], typer.Option(
    "--kb", metavar="DIR",
    help="Extra knowledge directory (repeatable); its entries replace built-in ones with the "
         "same id. GRADEXPLAIN_KB holds more, separated by the path separator.")]
FormatOption = Annotated[str, typer.Option(
    "--format", "-f", help="Output format: text, markdown or json.")]
ColorOption = Annotated[str, typer.Option(
    "--color", help="Colour on a terminal: auto, always or never. NO_COLOR is honoured.")]
SitePackagesOption = Annotated[str | None, typer.Option(
    "--site-packages", metavar="DIR",
    help="The site-packages folder to use (default: this environment's).")]
WidthOption = Annotated[int | None, typer.Option(
    "--width", min=min(app.WIDTHS), max=max(app.WIDTHS), help="Wrap text output at this width.")]


def version_callback(value: bool) -> None:
    if value:
        print(f"gradexplain {__version__}")
        raise typer.Exit()


@cli.callback()
def root(version: Annotated[bool, typer.Option(
        "--version", callback=version_callback, is_eager=True,
        help="Show the version and exit.")] = False) -> None:
    """Explain PyTorch autograd errors."""


def output_for(fmt: str, color: str, width: int | None) -> app.Output:
    if fmt not in app.FORMATS:
        raise app.UsageError(f"--format {fmt!r}: use one of {', '.join(app.FORMATS)}")
    if color not in app.COLORS:
        raise app.UsageError(f"--color {color!r}: use one of {', '.join(app.COLORS)}")
    return app.Output(fmt, color, width, sys.stdout)


@cli.command()
def explain(
    path: Annotated[str | None, typer.Argument(
        metavar="[PATH|-]", help="Log or traceback file (gzip too); '-' or nothing reads stdin.")
    ] = None,
    fmt: FormatOption = "text",
    color: ColorOption = "auto",
    width: WidthOption = None,
    kb: KbOption = [],  # noqa: B006 - typer needs a literal default
    max_bytes: Annotated[str, typer.Option(
        "--max-bytes", metavar="SIZE",
        help="Read at most this much (K, M, G suffixes; 0: no limit): the last part of a "
             "bigger file; from a pipe, its first part and its end. A note says what was "
             "skipped.")] = app.DEFAULT_MAX_BYTES,
) -> None:
    """Find the autograd error in a traceback or log and explain it.

    Example: python train.py 2>&1 | gradexplain explain
    """
    finish(lambda: app.explain_command(path, output_for(fmt, color, width), kb,
                                       sys.stdin.buffer, sys.stderr, max_bytes))


@cli.command(context_settings={"allow_interspersed_args": False,
                                "ignore_unknown_options": True})
def run(
    target: Annotated[list[str], typer.Argument(
        metavar="SCRIPT [ARGS]...", help="The script and its arguments, as for python.")],
    module: Annotated[bool, typer.Option(
        "-m", help="Run a module, as python -m MODULE [ARGS]... does.")] = False,
    fix: Annotated[bool, typer.Option(
        "--fix", help="On a known error, apply the automatic fix to a copy and run again.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask before re-running.")
                   ] = False,
    write: Annotated[bool, typer.Option(
        "--write", help="After a successful fixed run, write the change to your files "
                        "(atomically, keeping a backup).")] = False,
    force: Annotated[bool, typer.Option(
        "--force", help="With --write: write even if the fixed run did not succeed.")] = False,
    unsafe_fixes: Annotated[bool, typer.Option(
        "--unsafe-fixes", help="Also apply fixes marked unsafe (they may change behaviour).")
    ] = False,
    fix_id: Annotated[str | None, typer.Option(
        "--fix-id", metavar="ID", help="Apply this fix of the entry instead of the best one.")
    ] = None,
    max_fixes: Annotated[int, typer.Option(
        "--max-fixes", min=1, max=20, help="Fix and re-run at most this many times.")] = 3,
    backup_suffix: Annotated[str, typer.Option(
        "--backup-suffix", help="Suffix of the backup --write keeps.")] = ".bak",
    fmt: FormatOption = "text",
    json_out: Annotated[str | None, typer.Option(
        "--json-out", metavar="PATH",
        help="With --format json: write the JSON here (the script keeps stdout).")] = None,
) -> None:
    """Run a Python script exactly as python would; if it fails with an autograd error,
    explain it with live facts, and with --fix repair a copy and run it again.

    Example: gradexplain run train.py --epochs 3
    """
    from gradexplain.runfix import RunOptions, run_command

    options = RunOptions(
        module=module, fix=fix, yes=yes, write=write, force=force, unsafe_fixes=unsafe_fixes,
        fix_id=fix_id, max_fixes=max_fixes, backup_suffix=backup_suffix, format=fmt,
        json_out=json_out)
    finish(lambda: run_command(target, options))


@cli.command()
def check(
    paths: Annotated[list[str] | None, typer.Argument(
        metavar="[PATH|-]...", help="Python files and folders (default: the current folder); "
                                    "'-' reads one file from stdin.")] = None,
    fmt: Annotated[str, typer.Option(
        "--format", "-f", help="Output format: text, json or sarif (SARIF 2.1.0).")] = "text",
    color: ColorOption = "auto",
    show_all: Annotated[bool, typer.Option(
        "--all", help="Show medium-confidence findings too.")] = False,
    select: Annotated[list[str], typer.Option(
        "--select", metavar="ID", help="Only these entry ids (repeatable).")] = [],  # noqa: B006
    ignore: Annotated[list[str], typer.Option(
        "--ignore", metavar="ID", help="Not these entry ids (repeatable).")] = [],  # noqa: B006
    fix: Annotated[bool, typer.Option(
        "--fix", help="Apply the safe fixes (atomically, keeping FILE.bak); with '-', print "
                      "the fixed source and report what is left on stderr.")] = False,
    diff: Annotated[bool, typer.Option(
        "--diff", help="Print the fixes as a diff; change nothing.")] = False,
    unsafe_fixes: Annotated[bool, typer.Option(
        "--unsafe-fixes", help="With --fix or --diff: the unsafe fixes too.")] = False,
    kb: KbOption = [],  # noqa: B006
) -> None:
    """Find autograd bugs in Python files before they run: the knowledge base's static
    detectors. Exit status 0: no findings; 1: findings; 2: bad usage, or a file that could
    not be checked (unreadable, or not valid Python; the others are still checked).

    Silence a finding with `# gradexplain: ignore[ID]` on its line; configure with
    \\[tool.gradexplain] select / ignore / knowledge in pyproject.toml.

    Example: gradexplain check train.py src/
    """
    options = app.CheckOptions(show_all, tuple(select), tuple(ignore), fix, diff, unsafe_fixes)
    finish(lambda: app.check_command(paths or [], app.Output(fmt, color, None, sys.stdout),
                                     options, kb, sys.stdin.buffer, sys.stderr))


@cli.command("list")
def list_entries(fmt: FormatOption = "text", color: ColorOption = "auto",
                 kb: KbOption = []) -> None:  # noqa: B006
    """List the errors gradexplain knows."""
    finish(lambda: app.list_command(output_for(fmt, color, None), kb, sys.stderr))


@cli.command()
def show(entry_id: Annotated[str, typer.Argument(metavar="ID", help="Entry id, see 'list'.")],
         fmt: FormatOption = "text", color: ColorOption = "auto", width: WidthOption = None,
         kb: KbOption = []) -> None:  # noqa: B006
    """Show one knowledge entry in full."""
    finish(lambda: app.show_command(entry_id, output_for(fmt, color, width), kb, sys.stderr))


@cli.command()
def init(
    shell: Annotated[str, typer.Argument(metavar="bash|zsh|fish", help="Your shell.")],
    wrap_python: Annotated[bool, typer.Option(
        "--wrap-python", help="Also run `python script.py ...` through gradexplain run "
                              "(the REPL, -c, -m and other options are left alone).")] = False,
) -> None:
    """Print shell code that defines gx and completes gradexplain's commands; static text,
    so sourcing it starts no Python. Save it once and source the file from your rc file,
    or (a Python start per shell) eval it there:

    eval "$(gradexplain init bash)"  /  gradexplain init fish | source

    Then: python train.py 2>&1 | gx  (explain), or gx after a failed python run (re-run it).
    """
    finish(lambda: shellinit.init_command(shell, wrap_python, sys.stdout))


# a TAB press in a shell set up by `init` asks this process for completions
shellinit.enable_completion()


@kb_cli.command("verify")
def kb_verify(dirs: Annotated[list[str] | None, typer.Argument(
        metavar="[DIR]...", help="Knowledge directories whose entries to verify (default: "
                                 "the built-in ones).")] = None) -> None:
    """Run entries' case scripts under the installed torch and report drift: a message torch
    no longer prints the way the entry expects. Shows a progress bar on a terminal."""
    finish(lambda: app.kb_verify_command(dirs or [], sys.stdout, sys.stderr))


@kb_cli.command("check")
def kb_check(dirs: Annotated[list[str] | None, typer.Argument(
        metavar="[DIR]...", help="Directories to validate (default: the built-in entries and "
                                 "GRADEXPLAIN_KB).")] = None) -> None:
    """Validate knowledge entries: every problem is reported as file: field: problem."""
    finish(lambda: app.kb_check_command(dirs or [], sys.stdout))


@hook_cli.command("enable")
def hook_enable(site_packages: SitePackagesOption = None) -> None:
    """Explain autograd errors in every Python process of this environment: after an
    uncaught exception's traceback (unchanged), the explanation follows. GRADEXPLAIN=0
    turns it off for one process."""
    finish(lambda: app.hook_command("enable", site_packages, sys.stdout))


@hook_cli.command("disable")
def hook_disable(site_packages: SitePackagesOption = None) -> None:
    """Remove the excepthook from this environment."""
    finish(lambda: app.hook_command("disable", site_packages, sys.stdout))


@hook_cli.command("status")
def hook_status(site_packages: SitePackagesOption = None) -> None:
    """Say whether the excepthook is installed in this environment (exit 1 when not)."""
    finish(lambda: app.hook_command("status", site_packages, sys.stdout))


def finish(command: Callable[[], int]) -> NoReturn:
    """Run a command and exit with its status; no traceback of ours reaches the user."""
    raise typer.Exit(app.guarded(command))


def main() -> None:
    app.tolerant_streams()
    cli(prog_name="gradexplain")
