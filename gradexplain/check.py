"""`gradexplain check`: the knowledge base applied to code before it runs.

Entries with a `detect:` section name static detectors (gradexplain/detectors); each finding
carries the entry's id, message and confidence, and, when the entry names one, an automatic
fix computed with the same transformers as `run --fix`. A file that does not parse is
reported as such and the others are still checked. `# gradexplain: ignore[ID]` on a line
silences findings there; `[tool.gradexplain]` in pyproject.toml selects ids and adds
knowledge folders.
"""

from __future__ import annotations

import ast
import io
import os
import re
import sys
import tokenize
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from gradexplain.detectors import Hit, Module, get
from gradexplain.model import Detect, Entry
from gradexplain.runfix import unified_diff

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, BinaryIO

SKIPPED_DIRS = {"__pycache__", "node_modules", "site-packages", "build", "dist"}
IGNORE_RE = re.compile(r"#\s*gradexplain:\s*ignore(?:\[(?P<ids>[\w\s,-]*)\])?")
STDIN = "-"
STDIN_NAME = "<stdin>"  # the file name findings from stdin carry


@dataclass(frozen=True)
class SuggestedFix:
    applicability: str  # safe | unsafe | display-only
    diff: str  # this fix alone, on the file as it is
    transformer: str
    args: tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class Finding:
    id: str
    file: str
    line: int
    col: int  # 1-based, as editors count
    message: str
    confidence: str
    detector: str
    fix: SuggestedFix | None = None


@dataclass(frozen=True)
class Problem:
    """A file that could not be checked: unreadable, or not valid Python."""

    file: str
    message: str
    line: int = 1
    col: int = 1


@dataclass(frozen=True)
class Options:
    show_all: bool = False  # medium-confidence findings too
    select: frozenset[str] = frozenset()  # only these ids (empty: all)
    ignore: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Config:
    """`[tool.gradexplain]` in the nearest pyproject.toml: `select` and `ignore` (entry
    ids) and `knowledge` (extra knowledge folders, relative to that file)."""

    select: frozenset[str] = frozenset()
    ignore: frozenset[str] = frozenset()
    knowledge: tuple[str, ...] = ()
    file: str | None = None


class ConfigError(Exception):
    """A [tool.gradexplain] table that cannot be used; the text names the file and key."""


def load_config(start: Path) -> Config:
    for folder in (start, *start.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return read_config(candidate)
    return Config()


def read_config(file: Path) -> Config:
    if sys.version_info >= (3, 11):
        import tomllib
    else:
        try:
            import tomli as tomllib
        except ImportError:  # Python 3.10 without tomli: no configuration
            return Config()
    try:
        table = tomllib.loads(file.read_text(encoding="utf-8")).get("tool", {}).get(
            "gradexplain", {})
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"{file}: cannot read: {error}") from None
    unknown = sorted(set(table) - {"select", "ignore", "knowledge"})
    if unknown:
        raise ConfigError(f"{file}: [tool.gradexplain] {unknown[0]}: unknown key "
                          "(known: select, ignore, knowledge)")
    lists = {}
    for key in ("select", "ignore", "knowledge"):
        value = table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{file}: [tool.gradexplain] {key}: must be a list of strings")
        lists[key] = value
    return Config(frozenset(lists["select"]), frozenset(lists["ignore"]),
                  tuple(str(file.parent / d) for d in lists["knowledge"]), str(file))


@dataclass(frozen=True)
class Result:
    findings: tuple[Finding, ...] = ()
    problems: tuple[Problem, ...] = ()
    sources: dict[str, str] = field(default_factory=dict)  # file -> text, for fixes and views


def python_files(paths: Sequence[str]) -> Iterator[str]:
    """The files named, and the .py files under the folders named (hidden folders, virtual
    environments and build output skipped), in a stable order."""
    for path in paths:
        if path == STDIN or not os.path.isdir(path):
            yield path
            continue
        for folder, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if not skipped_dir(os.path.join(folder, d)))
            yield from (os.path.join(folder, f) for f in sorted(files) if f.endswith(".py"))


def skipped_dir(path: str) -> bool:
    name = os.path.basename(path)
    return (name.startswith(".") or name in SKIPPED_DIRS
            or os.path.exists(os.path.join(path, "pyvenv.cfg")))


def read_source(path: str, stdin: BinaryIO | None = None) -> str:
    """The file's text, decoded as Python decodes it (coding cookie, BOM)."""
    data = stdin.read() if path == STDIN and stdin is not None else Path(path).read_bytes()
    encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    return data.decode(encoding)


def check_paths(paths: Sequence[str], entries: Iterable[Entry], options: Options,
                stdin: BinaryIO | None = None) -> Result:
    detecting = [(entry, detect) for entry in entries for detect in entry.detects
                 if wanted(entry.id, detect, options)]
    findings: list[Finding] = []
    problems: list[Problem] = []
    sources: dict[str, str] = {}
    for path in python_files(paths):
        name = STDIN_NAME if path == STDIN else path
        try:
            source = read_source(path, stdin)
            tree = ast.parse(source, filename=name)
        except SyntaxError as error:
            problems.append(Problem(name, f"syntax error: {error.msg}", error.lineno or 1,
                                    error.offset or 1))
            continue
        except (RecursionError, MemoryError):  # as Python itself fails on such a file
            problems.append(Problem(name, "too deeply nested to parse"))
            continue
        except (OSError, UnicodeDecodeError, LookupError) as error:
            reason = getattr(error, "strerror", None) or error
            problems.append(Problem(name, f"cannot read: {reason}"))
            continue
        sources[name] = source
        findings += check_module(Module(name, source, tree), detecting)
    return Result(tuple(findings), tuple(problems), sources)


def wanted(entry_id: str, detect: Detect, options: Options) -> bool:
    if options.select and entry_id not in options.select:
        return False
    if entry_id in options.ignore:
        return False
    return options.show_all or detect.confidence == "high"


def check_module(module: Module, detecting: Sequence[tuple[Entry, Detect]]) -> list[Finding]:
    """Each detector runs once; a hit becomes a finding through the wanted detect item of
    its entry with the hit's confidence (a medium hit with no such item is not shown)."""
    lines = module.source.splitlines()
    items: dict[str, dict[tuple[str, str], tuple[Entry, Detect]]] = {}
    for entry, detect in detecting:
        items.setdefault(detect.detector, {})[entry.id, detect.confidence] = entry, detect
    found: dict[tuple[str, int, int], Finding] = {}
    for detector, wanted_items in items.items():
        for hit in hits_of(detector, module):
            for (entry_id, confidence), (entry, detect) in wanted_items.items():
                if confidence != hit.confidence or silenced(entry_id, lines, hit.line):
                    continue
                finding = Finding(entry_id, module.path, hit.line,
                                  character_column(lines, hit) + 1, fill(detect.message, hit),
                                  confidence, detector)
                fix_id = hit.fix or detect.fix
                if fix_id is not None:
                    finding = replace(finding, fix=suggest(module, entry, fix_id, hit))
                found.setdefault((entry_id, hit.line, hit.col), finding)
    return sorted(found.values(), key=lambda f: (f.line, f.col, f.id))


def hits_of(detector: str, module: Module) -> list[Hit]:
    """The detector's hits; none where the file nests deeper than it can follow (a chain
    of hundreds of calls): a detector that cannot read a file stays silent."""
    try:
        return list(get(detector)(module))
    except RecursionError:
        return []


def character_column(lines: Sequence[str], hit: Hit) -> int:
    """The hit's column in characters, as editors and SARIF count: ast counts UTF-8 bytes."""
    if not 1 <= hit.line <= len(lines):
        return hit.col
    return len(lines[hit.line - 1].encode("utf-8")[:hit.col].decode("utf-8", "replace"))


def silenced(entry_id: str, lines: Sequence[str], line: int) -> bool:
    """`# gradexplain: ignore` (everything) or `# gradexplain: ignore[ID, ...]` on the line."""
    if not 1 <= line <= len(lines):
        return False
    match = IGNORE_RE.search(lines[line - 1])
    if match is None:
        return False
    ids = match.group("ids")
    return ids is None or entry_id in {i.strip() for i in ids.split(",")}


def fill(template: str, hit: Hit) -> str:
    try:
        return template.format(**hit.names)
    except (KeyError, IndexError, ValueError):
        return template


def suggest(module: Module, entry: Entry, fix_id: str, hit: Hit) -> SuggestedFix | None:
    """The entry's automatic fix applied to the finding's line, or None when its
    transformer refuses."""
    fix = next((f for f in entry.fixes if f.id == fix_id and f.auto is not None), None)
    if fix is None or fix.auto is None:
        return None
    args = fix.auto.args
    new = transform(fix.auto.transformer, args, module.source, hit.line)
    if new is None:
        return None
    return SuggestedFix(fix.auto.applicability, unified_diff(module.path, module.source, new),
                        fix.auto.transformer, args)


def transform(transformer: str, args: tuple[tuple[str, Any], ...], source: str,
              line: int) -> str | None:
    from gradexplain import fixes

    outcome = fixes.get(transformer)(fixes.FixRequest(source, line, dict(args)))
    return outcome.source if outcome.source not in (None, source) else None


def fixed_sources(result: Result, unsafe: bool) -> dict[str, str]:
    """Per file, its text with every applicable fix applied (safe ones; unsafe ones too
    with `unsafe`), last line first so that each fix finds its line where it was."""
    fixed: dict[str, str] = {}
    for finding in sorted(result.findings, key=lambda f: (f.file, -f.line)):
        fix = finding.fix
        if fix is None or fix.applicability == "display-only":
            continue
        if fix.applicability == "unsafe" and not unsafe:
            continue
        current = fixed.get(finding.file, result.sources[finding.file])
        new = transform(fix.transformer, fix.args, current, finding.line)
        if new is not None:
            fixed[finding.file] = new
    return fixed
