"""Choose the frame to blame: the deepest one in the user's own code.

Library frames (the standard library, anything installed, torch itself, frozen importlib)
are where errors are raised, not where they are caused, so they are skipped. When the
file exists here, the whole statement around the line is read from disk; when the disk
disagrees with what the traceback showed, the traceback wins (the file has changed since).
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
import warnings
from pathlib import Path

from gradexplain.model import Frame, UserFrame

LIBRARY_PATH_RE = re.compile(
    r"[/\\](?:site|dist)-packages[/\\]"
    r"|[/\\]lib(?:64)?[/\\]python\d+(?:\.\d+)?t?[/\\]"  # the standard library (venvs, conda)
    r"|[/\\]Python\d*[/\\]Lib[/\\]"  # the standard library on Windows (any case, see flags)
    r"|[/\\]bin[/\\][\w.-]+(?<!\.py)$"  # console scripts: torchrun, accelerate, deepspeed
    # a source checkout of torch itself (a folder named after another library may be the
    # user's own: only torch's package layout is recognised outside site-packages)
    r"|(?:^|[/\\])torch[/\\](?:_\w+|autograd|nn|optim|utils|cuda|distributed|multiprocessing"
    r"|func|fx|amp|backends|jit|overrides)(?:[/\\.]|$)"
    r"|^<frozen |^<__array_function__|^<decorator-gen|^<eval_with_key>",
    re.IGNORECASE,
)
USER_PSEUDO_FILES = ("<stdin>", "<string>", "<input>")
MAX_SOURCE_BYTES = 2_000_000
MAX_STATEMENT_LINES = 12


def is_user_file(path: str) -> bool:
    if path.startswith(("Cell In[", "In [", "In[", "<ipython-input-")) or path in USER_PSEUDO_FILES:
        return True
    return not LIBRARY_PATH_RE.search(path)


def user_flags(frames: tuple[Frame, ...]) -> tuple[bool, ...]:
    return tuple(is_user_file(f.file) for f in frames)


def pick_user_frame(frames: tuple[Frame, ...], flags: tuple[bool, ...],
                    read_source: bool = True) -> UserFrame | None:
    """The deepest user frame, with its full statement when the source is on disk."""
    for index in range(len(frames) - 1, -1, -1):
        if flags[index]:
            frame = frames[index]
            statement = read_statement(frame) if read_source else None
            return UserFrame(index, frame, statement or frame.code, statement is not None)
    return None


def read_source_file(path: str) -> str | None:
    """The text of a local source file, or None (missing, too big, unreadable)."""
    try:
        file = Path(path).expanduser()
        if not file.is_file() or file.stat().st_size > MAX_SOURCE_BYTES:
            return None
        return file.read_text(encoding="utf-8", errors="replace")
    except (OSError, ValueError):
        return None


def read_statement(frame: Frame) -> str | None:
    """The statement at the frame's line, if the file here still has that line."""
    if frame.line is None:
        return None
    source = read_source_file(frame.file)
    if source is None:
        return None
    lines = source.splitlines()
    if not 1 <= frame.line <= len(lines):
        return None
    if frame.code and normalise(lines[frame.line - 1]) != normalise(frame.code):
        return None  # the file changed since the traceback was printed
    start, end = statement_span(source, frame.line)
    if end - start + 1 > MAX_STATEMENT_LINES:
        start = end = frame.line
    return "\n".join(dedent(lines[start - 1 : end]))


def parse_source(source: str) -> ast.Module | None:
    """The syntax tree of the user's file, or None when it does not parse. Its warnings are
    silenced: they would reach our stderr (Python 3.12 warns of every `"\\d"` in a regex)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return ast.parse(source)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return None


def statement_span(source: str, line: int) -> tuple[int, int]:
    """First and last line of the innermost simple statement covering `line`."""
    tree = parse_source(source)
    if tree is None:
        return line, line
    spans = [
        (node.lineno, node.end_lineno or node.lineno)
        for node in ast.walk(tree)
        if isinstance(node, ast.stmt)
        and not has_body(node)
        and node.lineno <= line <= (node.end_lineno or node.lineno)
    ]
    return min(spans, key=lambda span: span[1] - span[0], default=(line, line))


def has_body(node: ast.stmt) -> bool:
    """Compound statements (def, for, with, ...) span too much to be 'the line'."""
    return hasattr(node, "body")


def normalise(code: str) -> str:
    return " ".join(code.split())


def dedent(lines: list[str]) -> list[str]:
    indents = [len(line) - len(line.lstrip()) for line in lines if line.strip()]
    cut = min(indents, default=0)
    return [line[cut:].rstrip() for line in lines]


def without_comments(source: str) -> str:
    """Blank out comments (keeping line numbers), so a comment is never taken as evidence."""
    lines = source.splitlines(keepends=True)
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return source
    for token in reversed(tokens):
        if token.type == tokenize.COMMENT:
            row, col = token.start
            line = lines[row - 1]
            lines[row - 1] = line[:col] + line[token.end[1]:]
    return "".join(lines)
