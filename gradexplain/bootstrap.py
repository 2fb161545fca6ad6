"""Run a user's script as `python SCRIPT ARGS` would, and report what happened if it fails.

`gradexplain run` executes `python -m gradexplain.bootstrap ...` in the user's place (or as
a child, with --fix). This module imports almost nothing before the script runs, so the
run costs what Python costs. Settings come from environment variables, so the script's
own arguments are passed through untouched:

- GRADEXPLAIN_REPORT: a path; on an uncaught exception a JSON report (the printed
  traceback after the warnings issued before it, live facts about the failing line) is
  written there; on success, the warnings the script issued.
- GRADEXPLAIN_EXPLAIN: "1" to print the explanation after the traceback here (no parent).
- GRADEXPLAIN_PATCHES: a path to JSON {file: source}: run with those sources instead of
  the files on disk (the script or any module it imports); the disk is not touched.
- GRADEXPLAIN_TRACK_GRADS: "1" to record backward() calls and, at exit, the gradients
  that leaf tensors received (written to the report file).
- GRADEXPLAIN_JSON_OUT: a path; with GRADEXPLAIN_EXPLAIN, the explanation as JSON goes there.
- GRADEXPLAIN_ANOMALY: "1" to run under torch's anomaly detection and report the forward
  call of the operation whose backward failed.
"""

from __future__ import annotations

import os
import sys
from types import ModuleType, TracebackType
from typing import Any

REPORT = "GRADEXPLAIN_REPORT"
EXPLAIN = "GRADEXPLAIN_EXPLAIN"
PATCHES = "GRADEXPLAIN_PATCHES"
TRACK_GRADS = "GRADEXPLAIN_TRACK_GRADS"
JSON_OUT = "GRADEXPLAIN_JSON_OUT"
ANOMALY = "GRADEXPLAIN_ANOMALY"
ENV_VARS = (REPORT, EXPLAIN, PATCHES, TRACK_GRADS, JSON_OUT, ANOMALY)
OWN_FILES = ("bootstrap.py", "runpy.py", "<frozen runpy>")


def main(argv: list[str]) -> None:
    """argv: [SCRIPT, ARGS...] or ["-m", MODULE, ARGS...]."""
    settings = {name: os.environ.pop(name, "") for name in ENV_VARS}  # not the script's
    patches = load_patches(settings[PATCHES])
    from gradexplain import warnlog

    warnlog.install()
    if settings[TRACK_GRADS] == "1":
        from gradexplain.gradtrack import install

        install(settings[REPORT])
    if settings[ANOMALY] == "1":
        from gradexplain.anomaly import install as install_anomaly

        install_anomaly()
    try:
        if argv[0] == "-m":
            run_module(argv[1], argv[2:], patches)
        else:
            run_script(argv[0], argv[1:], patches)
    except SystemExit as exit_:
        if exit_.code in (None, 0):
            note_warnings(settings)
        raise
    except BaseException as error:  # noqa: BLE001 - reported exactly as Python would
        fail(error, settings)
    else:
        note_warnings(settings)


def note_warnings(settings: dict[str, str]) -> None:
    """After a run that succeeded: explain a warning the knowledge base knows (a silent bug
    such as a loss broadcasting its target); say nothing otherwise. With a JSON path, the
    JSON report is written either way."""
    from gradexplain import warnlog

    if settings[REPORT]:
        from gradexplain.runreport import write_report

        write_report(settings[REPORT], {"warnings": warnlog.text()})
    if settings[EXPLAIN] != "1" or not (warnlog.recorded or settings[JSON_OUT]):
        return
    try:
        from gradexplain.runreport import explain_warnings

        explain_warnings(warnlog.text(), settings[JSON_OUT])
    except Exception as problem:  # noqa: BLE001 - the run itself succeeded
        print(f"gradexplain: could not explain the warnings: {problem}", file=sys.stderr)


def load_patches(path: str) -> dict[str, str]:
    if not path:
        return {}
    import json

    with open(path, encoding="utf-8") as handle:
        patches: dict[str, str] = json.load(handle)
    if patches:
        install_patches(patches)
    return patches


def install_patches(patches: dict[str, str]) -> None:
    """Serve patched sources to imports and to tracebacks (linecache), not from disk."""
    import importlib.machinery
    import linecache

    class PatchedLoader(importlib.machinery.SourceFileLoader):
        def get_code(self, fullname: str) -> Any:
            return compile(patches[self.path], self.path, "exec", dont_inherit=True)

    class PatchFinder:
        @staticmethod
        def find_spec(name: str, path: Any = None, target: Any = None) -> Any:
            spec = importlib.machinery.PathFinder.find_spec(name, path)
            if spec is not None and spec.origin in patches:
                spec.loader = PatchedLoader(name, spec.origin)
            return spec

    sys.meta_path.insert(0, PatchFinder)
    for file, source in patches.items():
        linecache.cache[file] = (len(source), None, source.splitlines(True), file)


def run_script(script: str, args: list[str], patches: dict[str, str]) -> None:
    """What `python SCRIPT ARGS` does: argv, sys.path[0], a fresh __main__, then exec."""
    path = os.path.abspath(script)
    sys.argv = [script, *args]
    sys.path[0] = os.path.dirname(path)
    source = patches.get(path)
    if source is None:
        with open(path, "rb") as handle:
            code = compile(handle.read(), path, "exec", dont_inherit=True)
    else:
        code = compile(source, path, "exec", dont_inherit=True)
    import importlib.machinery

    main_module = ModuleType("__main__")
    main_module.__dict__.update(
        __file__=path, __builtins__=__builtins__, __cached__=None, __annotations__={},
        __loader__=importlib.machinery.SourceFileLoader("__main__", path))
    sys.modules["__main__"] = main_module
    exec(code, main_module.__dict__)


def run_module(module: str, args: list[str], patches: dict[str, str]) -> None:
    """What `python -m MODULE ARGS` does."""
    import runpy

    sys.argv = ["-m", *args]
    sys.path[0] = os.getcwd()
    runpy.run_module(module, run_name="__main__", alter_sys=True)


def user_traceback(tb: TracebackType | None) -> TracebackType | None:
    """The traceback without our own frames, which `python script.py` would not show."""
    while tb is not None and tb.tb_frame.f_code.co_filename.endswith(OWN_FILES):
        tb = tb.tb_next
    return tb


def fail(error: BaseException, settings: dict[str, str]) -> None:
    """Print the traceback as Python would, report, and exit as Python would."""
    tb = user_traceback(error.__traceback__)
    error.__traceback__ = tb
    sys.excepthook(type(error), error, tb)
    sys.stderr.flush()
    if settings[REPORT] or settings[EXPLAIN] == "1":
        try:
            from gradexplain.runreport import report_failure

            report_failure(error, settings[REPORT], settings[EXPLAIN] == "1",
                           settings[JSON_OUT])
        except Exception as problem:  # noqa: BLE001 - the user's error matters more
            print(f"gradexplain: could not explain: {problem}", file=sys.stderr)
    sys.stdout.flush()
    if isinstance(error, KeyboardInterrupt):
        import signal

        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    sys.exit(1)


if __name__ == "__main__":
    main(sys.argv[1:])
