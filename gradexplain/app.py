"""What each command does, as plain functions returning an exit status.

Exit statuses (documented in README and `--help`):
  0  an error was explained (explain), or the command succeeded
  1  explain: no traceback found, or none matched the knowledge base; kb check: bad entries
  2  bad usage, unreadable input, or an internal error (one line on stderr)
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from gradexplain import knowledge
from gradexplain.document import Document, build_document, entry_document, entry_table

TYPE_CHECKING = False  # importing typing costs 10 ms; annotations are strings
if TYPE_CHECKING:
    from typing import Any, BinaryIO, TextIO

    from gradexplain import check
    from gradexplain.model import Entry

EXPLAINED, NOT_EXPLAINED, FAILURE = 0, 1, 2
FORMATS = ("text", "markdown", "json")
COLORS = ("auto", "always", "never")
DEFAULT_WIDTH = 88
WIDTHS = range(40, 401)  # --width
DEFAULT_MAX_BYTES = "4G"  # a few seconds of scanning; the last 4 GiB of a bigger file


class UsageError(Exception):
    """Something the user can correct; reported as one line, exit status 2."""


@dataclass(frozen=True)
class Output:
    format: str = "text"
    color: str = "auto"
    width: int | None = None
    stream: TextIO = sys.stdout

    def use_rich(self) -> bool:
        """Rich styling on a terminal; --color always forces it, NO_COLOR turns it off."""
        if self.format != "text" or self.color == "never":
            return False
        if self.color == "always":
            return True
        return is_terminal(self.stream) and not os.environ.get("NO_COLOR")

    def text_width(self) -> int:
        if self.width:
            return self.width
        if is_terminal(self.stream):
            return min(terminal_columns(self.stream), 120)
        return DEFAULT_WIDTH


def terminal_columns(stream: TextIO) -> int:
    """COLUMNS if set (as shutil would), else the terminal's width."""
    try:
        return int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        pass
    try:
        return os.get_terminal_size(stream.fileno()).columns or DEFAULT_WIDTH
    except (AttributeError, ValueError, OSError):
        return DEFAULT_WIDTH


def is_terminal(stream: TextIO | BinaryIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def guarded(command: Callable[[], int]) -> int:
    """Run a command and return its exit status; whatever goes wrong becomes one line on
    stderr, never a traceback of ours."""
    try:
        status = command()
        sys.stdout.flush()
    except UsageError as error:
        print(f"gradexplain: error: {one_line(str(error))}", file=sys.stderr)
        status = FAILURE
    except BrokenPipeError:
        status = EXPLAINED
        silence_stdout()
    except KeyboardInterrupt:
        status = 130
    except Exception as error:  # noqa: BLE001 - the promise is: never a traceback
        print(f"gradexplain: internal error: {type(error).__name__}: {one_line(str(error))}",
              file=sys.stderr)
        status = FAILURE
    return status


def one_line(text: str) -> str:
    """A message on one line, whatever a file name in it holds: control characters (a
    newline, a terminal escape) are shown escaped."""
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


def silence_stdout() -> None:
    """After the reader of a pipe went away, flushing at exit must not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def tolerant_streams() -> None:
    """A log can hold any character; a terminal or file in a narrow encoding must not turn
    that into a crash."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="replace")


def load_knowledge(kb_dirs: Sequence[str], stderr: TextIO) -> knowledge.KnowledgeBase:
    """The knowledge base; a broken user entry is a warning, not a failure."""
    for path in kb_dirs:
        if not Path(path).is_dir():
            raise UsageError(f"--kb {path}: not a directory")
    kb = knowledge.load(knowledge.search_dirs(kb_dirs))
    for problem in kb.problems:
        print(f"gradexplain: warning: skipped entry: {problem}", file=stderr)
    return kb


def open_input(path: str | None, stdin: BinaryIO) -> BinaryIO:
    if path is None or path == "-":
        return stdin
    file = Path(path)
    if file.is_dir():
        raise UsageError(f"{path}: is a directory; give a log file, or '-' for standard input")
    if not file.exists():
        raise UsageError(f"{path}: cannot read: no such file")
    try:
        handle = file.open("rb")
    except OSError as error:
        raise UsageError(f"{path}: cannot read: {error.strerror or error}") from None
    if handle.read(2) == b"\x1f\x8b":  # a gzipped log
        import gzip

        handle.close()
        return gzip.open(file, "rb")  # type: ignore[return-value]
    handle.seek(0)
    return handle


def parse_size(text: str) -> int:
    """`--max-bytes` values: a number of bytes with an optional K, M or G (powers of 1024);
    0 means no limit."""
    units = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    number, unit = text.strip().upper().rstrip("IB") or "x", ""
    if number[-1:] in units:
        number, unit = number[:-1], number[-1]
    if not number.isdigit():
        raise UsageError(f"--max-bytes {text!r}: use a number of bytes, e.g. 500M or 2G "
                         "(0: no limit)")
    return int(number) * units[unit]


def read_chunks(handle: BinaryIO, name: str, max_bytes: int,
                stderr: TextIO) -> Iterator[bytes]:
    """The input, at most `max_bytes` of it: a regular file is read from its last
    `max_bytes` (the error that ended a run is near its end); a pipe is scanned up to the
    limit and then drained, keeping its last part to scan, so that the program writing
    into it is never cut off. A note on stderr says what was skipped."""
    from gradexplain.parser import CHUNK_SIZE

    try:
        size = regular_file_size(handle)
        if max_bytes and size > max_bytes:
            handle.seek(size - max_bytes)
            note(stderr, f"{name}: read its last {human(max_bytes)} of {human(size)} "
                         "(--max-bytes)")
            yield b"\n"  # the first line read is likely cut: start it afresh
        read = 0
        while chunk := handle.read(CHUNK_SIZE):
            read += len(chunk)
            if max_bytes and read > max_bytes and not size:
                yield from drain_keeping_tail(handle, chunk, name, read, max_bytes, stderr)
                return
            yield chunk
    except (OSError, EOFError, ValueError, zlib.error) as error:  # zlib: a corrupt gzip
        raise UsageError(f"{name}: cannot read: {error}") from None


def regular_file_size(handle: BinaryIO) -> int:
    """The size of a plain file read directly (not gzip, not a pipe), else 0."""
    import io
    import stat

    if not isinstance(handle, io.BufferedReader):
        return 0
    status = os.fstat(handle.fileno())
    return status.st_size if stat.S_ISREG(status.st_mode) else 0


def drain_keeping_tail(handle: BinaryIO, chunk: bytes, name: str, read: int, max_bytes: int,
                       stderr: TextIO) -> Iterator[bytes]:
    """Read a pipe to its end after the limit, keeping only its last part (a tenth of the
    limit, at most 16 MiB), which is then scanned after a line break."""
    from collections import deque

    keep = min(max_bytes // 10, 16 << 20) or 1
    tail: deque[bytes] = deque([chunk])
    kept = len(chunk)
    while more := handle.read(1 << 20):
        read += len(more)
        tail.append(more)
        kept += len(more)
        while kept - len(tail[0]) >= keep:
            kept -= len(tail.popleft())
    note(stderr, f"{name}: scanned its first {human(max_bytes)} and last {human(kept)} of "
                 f"{human(read)} (--max-bytes)")
    yield b"\n"
    yield from tail


def note(stderr: TextIO, text: str) -> None:
    print(f"gradexplain: note: {text}", file=stderr)


def human(size: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} bytes"


def explain_command(path: str | None, output: Output, kb_dirs: Sequence[str],
                    stdin: BinaryIO, stderr: TextIO, max_bytes: str = DEFAULT_MAX_BYTES) -> int:
    from gradexplain.explain import explain
    from gradexplain.render import render_json

    limit = parse_size(max_bytes)
    if (path is None or path == "-") and is_terminal(stdin):
        raise UsageError("no input: pipe a log into 'gradexplain explain' or give a file, "
                         "e.g. python train.py 2>&1 | gradexplain explain")
    kb = load_knowledge(kb_dirs, stderr)
    handle = open_input(path, stdin)
    try:
        report = explain(read_chunks(handle, path or "<stdin>", limit, stderr), kb)
    finally:
        if handle is not stdin:
            handle.close()
    if output.format == "json":
        output.stream.write(render_json(report))
    else:
        emit(build_document(report), output)
    return EXPLAINED if report.primary is not None else NOT_EXPLAINED


def emit(document: Document, output: Output) -> None:
    if output.use_rich():
        from gradexplain.render_rich import print_rich

        print_rich(document, force_color=output.color == "always", width=output.width,
                   file=output.stream)
        return
    from gradexplain.render import render_markdown, render_text

    if output.format == "markdown":
        output.stream.write(render_markdown(document))
    else:
        output.stream.write(render_text(document, output.text_width()))


def list_command(output: Output, kb_dirs: Sequence[str], stderr: TextIO) -> int:
    kb = load_knowledge(kb_dirs, stderr)
    if output.format == "json":
        import json

        entries = [{"id": e.id, "family": e.family, "exception": list(e.exceptions),
                    "title": e.title, "file": e.path} for e in kb.entries]
        output.stream.write(json.dumps({"schema": 1, "entries": entries}, indent=2) + "\n")
    else:
        emit(entry_table(kb.entries), output)
    return EXPLAINED


def show_command(entry_id: str, output: Output, kb_dirs: Sequence[str], stderr: TextIO) -> int:
    kb = load_knowledge(kb_dirs, stderr)
    entry = kb.get(entry_id)
    if entry is None:
        known = ", ".join(sorted(e.id for e in kb.entries))
        raise UsageError(f"no entry {entry_id!r}; known entries: {known}")
    if output.format == "json":
        import json
        from dataclasses import asdict

        output.stream.write(json.dumps(asdict(entry), indent=2) + "\n")
    else:
        emit(entry_document(entry), output)
    return EXPLAINED


def kb_verify_command(dirs: Sequence[str], stdout: TextIO, stderr: TextIO) -> int:
    """Run the cases of the entries in DIRs (default: the built-in ones) under the installed
    torch, matching against all entries; 1 when a message drifted."""
    import importlib.util

    from gradexplain.verify import case_scripts, verify

    if importlib.util.find_spec("torch") is None:
        raise UsageError("kb verify runs the cases under torch, which is not installed here")
    kb = load_knowledge(dirs, stderr)
    chosen = knowledge.load([Path(d) for d in dirs]).entries if dirs else kb.entries
    selected = tuple(e for e in kb.entries if e.id in {c.id for c in chosen})
    total = sum(len(case_scripts(entry)) for entry in selected)
    with progress_bar(total, stderr) as advance:
        results = verify(selected, kb.entries, advance)
    for result in sorted(results, key=lambda r: (r.ok, r.entry_id, r.case.name)):
        mark = "ok   " if result.ok else "DRIFT"
        print(f"{mark} {result.entry_id}: {result.case.name}: {result.detail}", file=stdout)
    untested = sorted(e.id for e in selected if not case_scripts(e))
    if untested:
        print(f"no case to run (proven by captured tracebacks): {', '.join(untested)}",
              file=stdout)
    failed = sum(not r.ok for r in results)
    print(f"{len(results) - failed} of {len(results)} cases still match their entry",
          file=stdout)
    return EXPLAINED if not failed else NOT_EXPLAINED


@contextlib.contextmanager
def progress_bar(total: int, stream: TextIO) -> Iterator[Callable[[Any], None]]:
    """A rich progress bar on a terminal; nothing when the output is a file or a pipe."""
    if not is_terminal(stream) or os.environ.get("NO_COLOR"):
        yield lambda _: None
        return
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(file=stream), transient=True) as progress:
        task = progress.add_task("running cases", total=total)
        yield lambda _: progress.advance(task)


def kb_check_command(dirs: Sequence[str], stdout: TextIO) -> int:
    """Validate entries; with no DIR, the built-in ones and those named by GRADEXPLAIN_KB."""
    paths = [Path(d) for d in dirs] if dirs else knowledge.search_dirs()
    for path in paths:
        if not path.is_dir():
            raise UsageError(f"{path}: not a directory")
    kb = knowledge.load(paths)
    for problem in kb.problems:
        print(f"error: {problem}", file=stdout)
    files = sum(len(knowledge.entry_files(p)) for p in paths)
    status = "OK" if not kb.problems else f"{len(kb.problems)} problem(s)"
    print(f"{files} entry file(s) checked in {', '.join(map(str, paths))}: {status}", file=stdout)
    return EXPLAINED if not kb.problems else NOT_EXPLAINED


CHECK_FORMATS = ("text", "json", "sarif")


def check_command(paths: Sequence[str], output: Output, options: CheckOptions,
                  kb_dirs: Sequence[str], stdin: BinaryIO, stderr: TextIO) -> int:
    """Exit status 0: no findings; 1: findings; 2: a file could not be checked (unreadable
    or not valid Python: reported, and the others are still checked)."""
    from gradexplain import check

    if output.format not in CHECK_FORMATS:
        raise UsageError(f"--format {output.format!r}: use one of {', '.join(CHECK_FORMATS)}")
    for path in paths:
        if path != check.STDIN and not os.path.exists(path):
            raise UsageError(f"{path}: cannot read: no such file or folder")
    try:
        config = check.load_config(Path.cwd())
    except check.ConfigError as error:
        raise UsageError(str(error)) from None
    kb = load_knowledge([*config.knowledge, *kb_dirs], stderr)
    selection = check.Options(options.show_all, frozenset(options.select) or config.select,
                              frozenset(options.ignore) | config.ignore)

    if options.fix and not options.diff and check.STDIN in paths:
        if list(paths) != [check.STDIN]:
            raise UsageError("--fix with '-': standard input must be the only path")
        return fix_stdin(kb.entries, selection, options, output, stdin, stderr)

    def run() -> check.Result:
        return check.check_paths(paths or ["."], kb.entries, selection, stdin)

    result = run()
    if options.fix or options.diff:
        fixed = check.fixed_sources(result, options.unsafe_fixes)
        for file, source in fixed.items():
            if options.diff:
                from gradexplain.runfix import unified_diff

                output.stream.write(unified_diff(file, result.sources[file], source))
            else:
                from gradexplain.runfix import write_with_backup

                backup = write_with_backup(Path(file), source, ".bak")
                print(f"gradexplain: fixed {file} (original kept as {backup})", file=stderr)
        if options.fix and fixed:
            result = run()
        if options.diff:
            return 1 if fixed or result.findings else 0
    emit_check(result, output, {e.id: e.title for e in kb.entries})
    if result.problems:
        return FAILURE
    return NOT_EXPLAINED if result.findings else EXPLAINED


def fix_stdin(entries: Sequence[Entry], selection: check.Options, options: CheckOptions,
              output: Output, stdin: BinaryIO, stderr: TextIO) -> int:
    """`check --fix -`, as editors call a formatter: the source, fixed where a fix applies,
    on stdout in its own encoding and line endings; the findings left, on stderr."""
    from gradexplain import check
    from gradexplain.runfix import encode_like

    original = stdin.read()
    result = check.check_paths([check.STDIN], entries, selection, io.BytesIO(original))
    fixed = check.fixed_sources(result, options.unsafe_fixes).get(check.STDIN_NAME)
    data = original if fixed is None else encode_like(Path(check.STDIN_NAME), fixed, original)
    if fixed is not None:
        result = check.check_paths([check.STDIN], entries, selection, io.BytesIO(data))
    write_bytes(output.stream, data)
    emit_check(result, replace(output, stream=stderr), {e.id: e.title for e in entries})
    if result.problems:
        return FAILURE
    return NOT_EXPLAINED if result.findings else EXPLAINED


def write_bytes(stream: TextIO, data: bytes) -> None:
    """DATA as it is on a text stream's binary buffer (decoded where it has none)."""
    stream.flush()
    buffer = getattr(stream, "buffer", None)
    if buffer is None:
        stream.write(data.decode("utf-8", "replace"))
    else:
        buffer.write(data)
        buffer.flush()


@dataclass(frozen=True)
class CheckOptions:
    show_all: bool = False
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    fix: bool = False
    diff: bool = False
    unsafe_fixes: bool = False


def emit_check(result: check.Result, output: Output, titles: dict[str, str]) -> None:
    from gradexplain import checkreport

    if output.format == "json":
        output.stream.write(checkreport.render_json(result))
    elif output.format == "sarif":
        output.stream.write(checkreport.render_sarif(result, titles))
    elif output.use_rich():
        checkreport.print_rich(result, output.stream, output.color == "always")
    else:
        output.stream.write(checkreport.render_text(result))


def hook_command(action: str, site_packages: str | None, stdout: TextIO) -> int:
    """enable / disable / status of the .pth excepthook; status exits 1 when it is off."""
    from gradexplain import pthhook

    if site_packages is not None and not Path(site_packages).is_dir():
        raise UsageError(f"--site-packages {site_packages}: not a directory")
    try:
        state = {"enable": pthhook.enable, "disable": pthhook.disable,
                 "status": pthhook.status}[action](site_packages)
    except OSError as error:
        raise UsageError(f"cannot {action} the hook: {error}") from error
    print(f"gradexplain hook: {state.describe()}", file=stdout)
    return 0 if state.enabled or action == "disable" else 1
