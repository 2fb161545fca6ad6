"""A cache of knowledge entries already read and validated, so that `explain` neither parses
YAML nor compiles regexes for entries that cannot match.

The cache folder holds an index and one body per entry file. The index maps each entry
file (its path, size and modification time) to what rules the entry out cheaply: its
exception types and, per message pattern, a literal that every match contains. `explain`
reads only the index and, for the few entries that could match, their bodies: the time it
takes grows little with the number of entries. Everything is JSON, never pickle: the cache
folder is just a folder, and loading it must not run code. The cache is dropped whole when
gradexplain or its validation code changes. It is best effort: an unreadable, corrupt or
unwritable cache only costs the time it saves. `GRADEXPLAIN_CACHE` names its folder;
`GRADEXPLAIN_CACHE=0` turns it off.
"""

from __future__ import annotations

import json
import os
import zlib
from pathlib import Path

from gradexplain import __version__

TYPE_CHECKING = False  # importing typing costs 10 ms; annotations are strings
if TYPE_CHECKING:
    from typing import Any

CACHE_VAR = "GRADEXPLAIN_CACHE"
FILE_NAME = "knowledge-v3.json"
BODIES = "entries"
# the code whose checks a cached entry has passed: a change to any of them re-validates
VALIDATORS = ("knowledge.py", "regexcheck.py", "codeflow.py", "fixes/__init__.py",
              "detectors/__init__.py")


def cache_dir() -> Path | None:
    chosen = os.environ.get(CACHE_VAR, "")
    if chosen in ("0", "off", "no"):
        return None
    if chosen:
        return Path(chosen)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "gradexplain"


def stamp() -> str:
    """What the cached data depends on besides the entry files: this version of the code
    that validated them."""
    here = Path(__file__).parent
    times = []
    for name in VALIDATORS:
        try:
            times.append(str((here / name).stat().st_mtime_ns))
        except OSError:
            times.append("-")
    return ":".join([__version__, *times])


def body_name(key: str) -> str:
    """A short file name for the body of `key` (a checksum: cheap to import, unlike hashlib;
    the body records its key, so that two keys with one name only cost a re-read)."""
    return f"{zlib.crc32(key.encode('utf-8', 'surrogatepass')):08x}.json"


class EntryCache:
    """The index in memory; bodies are read on demand and written on `save`."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self.stamp = stamp()
        self.index: dict[str, Any] = {}
        self.new_bodies: dict[str, Any] = {}
        if folder is not None:
            self.index = self.read_index(folder / FILE_NAME)

    def read_index(self, file: Path) -> dict[str, Any]:
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict) or data.get("stamp") != self.stamp:
            return {}
        files = data.get("files")
        return files if isinstance(files, dict) else {}

    def lookup(self, key: str) -> Any:
        """The index record cached for the entry file `key`, or None."""
        return self.index.get(key) if self.folder is not None else None

    def body(self, key: str) -> Any:
        """The validated data of the entry file `key`, or None when it cannot be read."""
        if key in self.new_bodies:
            return self.new_bodies[key]
        if self.folder is None:
            return None
        try:
            stored = json.loads((self.folder / BODIES / body_name(key)).read_text("utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(stored, dict) or stored.get("key") != key:
            return None
        return stored.get("data")

    def repair(self, key: str, data: Any) -> None:
        """Write the body of an indexed entry again, after it was found missing or bad."""
        if self.folder is not None:
            try:
                (self.folder / BODIES).mkdir(parents=True, exist_ok=True)
                atomic_write(self.folder / BODIES / body_name(key),
                             json.dumps({"key": key, "data": data}))
            except (OSError, TypeError, ValueError):
                pass

    def put(self, key: str, record: Any, data: Any) -> None:
        if self.folder is None:
            return
        try:
            json.dumps(data)
        except (TypeError, ValueError):
            return  # YAML gave something JSON cannot hold: read it from YAML each time
        self.index[key] = record
        self.new_bodies[key] = data

    def save(self, used: set[str]) -> None:
        """Write new bodies, then the index (atomically; failures are ignored). Records of
        files not loaded this time stay while the file exists unchanged (another command
        may load other folders); bodies no longer indexed are removed."""
        if self.folder is None or not self.new_bodies:
            return
        used_paths = {path_of(key) for key in used}
        kept = {key: value for key, value in self.index.items()
                if key in used or (path_of(key) not in used_paths
                                   and os.path.exists(path_of(key)))}
        bodies = self.folder / BODIES
        try:
            bodies.mkdir(parents=True, exist_ok=True)
            for key, data in self.new_bodies.items():
                if key in kept:
                    self.repair(key, data)
            atomic_write(self.folder / FILE_NAME,
                         json.dumps({"stamp": self.stamp, "files": kept}))
            for older in self.folder.glob("knowledge-v*.json"):
                if older.name != FILE_NAME:  # an older gradexplain's index
                    older.unlink()
            wanted = {body_name(key) for key in kept}
            for old in bodies.iterdir():
                if old.name not in wanted and not old.name.startswith("."):
                    old.unlink()
        except OSError:
            pass


def path_of(key: str) -> str:
    return key.rsplit(":", 2)[0]


def atomic_write(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)
