"""A cache of knowledge entries already read and validated, so that `explain` does not
parse 50 YAML files and compile 700 regexes on every run.

Each entry's plain data is stored under its file's path, size and modification time, in
one JSON file (never pickle: the cache folder is just a folder, and loading it must not
run code). The cache is dropped whole when gradexplain or its validation code changes. It
is best effort: an unreadable, corrupt or unwritable cache only costs the time it saves.
`GRADEXPLAIN_CACHE` names its folder; `GRADEXPLAIN_CACHE=0` turns it off.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from gradexplain import __version__

CACHE_VAR = "GRADEXPLAIN_CACHE"
FILE_NAME = "knowledge-v1.json"


def cache_dir() -> Path | None:
    chosen = os.environ.get(CACHE_VAR, "")
    if chosen in ("0", "off", "no"):
        return None
    if chosen:
        return Path(chosen)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "gradexplain"


def stamp() -> str:
    """What the cached data depends on besides the entry files: this version of the
    loader that validated them."""
    loader = Path(__file__).with_name("knowledge.py")
    try:
        return f"{__version__}:{loader.stat().st_mtime_ns}"
    except OSError:
        return __version__


def file_key(path: Path) -> str | None:
    try:
        status = path.stat()
    except OSError:
        return None
    return f"{path.resolve()}:{status.st_size}:{status.st_mtime_ns}"


class EntryCache:
    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self.stamp = stamp()
        self.entries: dict[str, Any] = {}
        self.changed = False
        if folder is not None:
            self.entries = self.read(folder / FILE_NAME)

    def read(self, file: Path) -> dict[str, Any]:
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict) or data.get("stamp") != self.stamp:
            return {}
        entries = data.get("entries")
        return entries if isinstance(entries, dict) else {}

    def get(self, path: Path) -> Any:
        key = file_key(path)
        return self.entries.get(key) if key is not None and self.folder else None

    def put(self, path: Path, data: Any) -> None:
        key = file_key(path)
        if key is None or self.folder is None:
            return
        try:
            json.dumps(data)
        except (TypeError, ValueError):
            return  # YAML gave something JSON cannot hold: read it from YAML each time
        self.entries[key] = data
        self.changed = True

    def save(self, keep: set[str]) -> None:
        """Write the entries still in use (atomically; failures are ignored)."""
        if self.folder is None or not self.changed:
            return
        kept = {key: value for key, value in self.entries.items() if key in keep}
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            temporary = self.folder / f".{FILE_NAME}.{os.getpid()}"
            temporary.write_text(json.dumps({"stamp": self.stamp, "entries": kept}),
                                 encoding="utf-8")
            temporary.replace(self.folder / FILE_NAME)
        except OSError:
            pass
