"""`gradexplain hook enable|disable|status`: the excepthook for every Python process of an
environment, installed as a .pth file in its site-packages.

The .pth line runs at every interpreter start, so it imports nothing: it installs a stub
hook that imports gradexplain.autohook only when an uncaught exception happens (and falls
back to the previous hook if that fails: a later `pip uninstall gradexplain` must not
make a crash print a second traceback).
"""

from __future__ import annotations

import sysconfig
from dataclasses import dataclass
from pathlib import Path

PTH_NAME = "gradexplain-hook.pth"
# Runs at every start: defines the hook without importing anything (gradexplain included)
# until an uncaught exception, and falls back to the previous hook if gradexplain is gone.
STUB = """\
if os.environ.get("GRADEXPLAIN", "1") != "0" and not getattr(sys.excepthook, "gradexplain", 0):
    def _gradexplain_hook(kind, error, tb, previous=sys.excepthook):
        try:
            from gradexplain.autohook import after_traceback
        except Exception:
            return previous(kind, error, tb)
        after_traceback(previous, kind, error, tb)
    _gradexplain_hook.gradexplain = True
    sys.excepthook = _gradexplain_hook
"""
PTH_LINE = f"import os, sys; exec({STUB!r})\n"


@dataclass(frozen=True)
class HookState:
    path: Path
    enabled: bool
    current: bool  # the file holds this version's line

    def describe(self) -> str:
        if not self.enabled:
            return f"disabled (no {self.path})"
        stale = "" if self.current else " (written by another version: run `hook enable`)"
        return f"enabled: {self.path}{stale}"


def pth_path(site_packages: str | None = None) -> Path:
    """The .pth file in the active environment's site-packages (or the one given)."""
    return Path(site_packages or sysconfig.get_paths()["purelib"]) / PTH_NAME


def status(site_packages: str | None = None) -> HookState:
    path = pth_path(site_packages)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return HookState(path, False, False)
    return HookState(path, True, text == PTH_LINE)


def enable(site_packages: str | None = None) -> HookState:
    path = pth_path(site_packages)
    temporary = path.with_suffix(".pth.tmp")  # not read by site: only *.pth files are
    temporary.write_text(PTH_LINE, encoding="utf-8")
    temporary.replace(path)
    return status(site_packages)


def disable(site_packages: str | None = None) -> HookState:
    pth_path(site_packages).unlink(missing_ok=True)
    return status(site_packages)
