"""Find every Python traceback in arbitrary text: logs, pastes, notebooks, multi-rank output.

The input is read as a stream of byte lines, so a log of any size is scanned in bounded
memory. While no traceback is open, whole stretches of the input are skipped with
`bytes.find` on a few trigger words (C speed); only lines near a trigger go through the
per-line state machine. Nothing here may raise on any input: every line is decoded with
replacement, cut to a bounded length and cleaned of colour codes and control characters.
"""

from __future__ import annotations

import codecs
import itertools
import re
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from gradexplain.model import ExceptionInfo, Frame, Traceback

CHUNK_SIZE = 1 << 20
MAX_LINE = 16 * 1024  # longer lines are cut: no traceback line is this long
MAX_MESSAGE_LINES = 100
MAX_MESSAGE_CHARS = 64 * 1024
MAX_FRAMES = 2000  # deep recursion: keep the outermost and innermost frames
MAX_TRACEBACKS = 1000  # per input; the oldest are dropped first
MAX_ORPHANS = 16
SMALL_INPUT = 64 * 1024  # a paste this small may be a bare message with no exception type
CHAIN_WINDOW = 4  # lines after a traceback in which a chaining sentence links the next one
IDLE_AFTER = 64  # input lines after the last traceback closed before lines are skipped again
TRIGGERS = (b"Traceback", b"Error", b"Exception", b'File "', b"Warning: ", b"Root Cause (",
            b"error_file")

ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]")
CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
STREAM_RE = re.compile(
    r"^\s*(?:\[(?:rank|default|local_rank|worker)\s*(?P<rank>\d{1,6})\]\s*:"
    r"|\[(?P<mpi>\d{1,6},\d{1,6})\]<std(?:out|err)>:"
    r"|(?P<srun>\d{1,5}):(?= ))\s?"
)
# After the colon anything may follow (a progress bar redrawn on the same line); without
# it the line must end there, as IPython's "RuntimeError    Traceback (most recent call last)".
HEADER_RE = re.compile(
    r"(?P<kind>Original |Exception Group )?Traceback \(most recent call last\)"
    r"(?:(?P<colon>:)(?P<rest>.*)|[\s`]*)$"
)
JUPYTER_TYPE_RE = re.compile(r"(?P<type>[A-Za-z_][\w.]{0,200})\s{2,}$")
CHAIN_MARKERS = {
    "The above exception was the direct cause of the following exception:": "cause",
    "During handling of the above exception, another exception occurred:": "context",
}
SPAWN_MARKER_RE = re.compile(r"-- Process \d{1,6} terminated with the following error:$")
FILE_RE = re.compile(
    r'^\s*File "(?P<file>[^"]{1,4096})", line (?P<line>\d{1,9})(?:, in (?P<func>.+))?$'
)
# IPython's %xmode Plain: "  Cell In[1], line 7" / "  File x.py:3 in f"
PLAIN_FRAME_RE = re.compile(
    r"^\s+(?:(?P<cell>Cell In\s?\[\d*\]), line |File (?P<path>\S.{0,4096}?):)(?P<line>\d{1,9})"
    r"(?:,? in (?P<func>.+))?$"
)
DOCS_ARROW_RE = re.compile(r"^->\s+(?P<code>\S.*)$")
NOISE_RE = re.compile(
    r"^\S.{0,4096}?:\d{1,9}: \w{0,80}Warning: "  # the warnings module's own line
    r"|^\[[WIEF]\d{4} \d\d:\d\d:\d\d"  # glog lines of torch's C++ code
)
# what the warnings module prints (logging.captureWarnings adds its own prefix)
WARNING_RE = re.compile(
    r"^(?:WARNING:py\.warnings:)?(?P<file>\S.{0,4096}?):(?P<line>\d{1,9}): "
    r"(?P<type>(?:[A-Za-z_]\w{0,100}\.){0,10}[A-Za-z_]\w{0,80}Warning): (?P<msg>.*)$"
)
CELL_RE = re.compile(r"^(?P<file>Cell In\s?\[\d*\]), line (?P<line>\d{1,9})(?:, in (?P<func>.+))?$")
IPY_FILE_RE = re.compile(r"^File (?P<file>\S.{0,4096}?):(?P<line>\d{1,9})(?:, in (?P<func>.+))?$")
IPY_OLD_RE = re.compile(
    r"^(?P<file><ipython-input-[^>]{1,200}>|<[^>\s]{1,200}>|\S[^\n]{0,4096}?\.pyx?) in "
    r"(?P<func>[\w.<>]{1,200})(?:\(.*\))?\s*$"
)
IPY_ARROW_RE = re.compile(r"^-*> ?(?P<line>\d{1,9})(?: (?P<code>.*))?$")
IPY_COLLAPSED_RE = re.compile(r"^\d{1,6} frames?$")  # Colab folds library frames
EXC_LINE_RE = re.compile(
    r"^(?P<type>[A-Za-z_][\w]{0,200}(?:\.[A-Za-z_][\w]{0,200}){0,20})(?::(?: (?P<msg>.*))?)?\s*$"
)
ORPHAN_RE = re.compile(
    r"(?:^|[\s`'\">:\]|(])(?P<type>(?:[A-Za-z_]\w{0,100}\.){0,10}[A-Z]\w{0,100}(?:Error|Exception))"
    r": (?P<msg>\S.*)$"
)
EXCEPTION_NAME_RE = re.compile(r"(?:Error|Exception|Interrupt|Exit|Warning|Iteration)$")
CARET_RE = re.compile(r"^\s*[~^\-]+\s*$")
FENCE_RE = re.compile(r"^\s*(?:```|~~~)")
LOG_RECORD_RE = re.compile(
    r"^(?:\[?\d{4}-\d\d-\d\d[ T]\d\d:\d\d|\[?[IWEF]\d{4} \d\d:\d\d:\d\d|\[[IWEF] \w"
    r"|(?:DEBUG|INFO|WARNING|ERROR|CRITICAL)[:\s])"
)
PROGRESS_MARKS = ("it/s]", "s/it]", "%|")
MAX_PREFIX = 200
MAX_STREAMS = 256
# torchrun's ChildFailedError summary: "  error_file: /tmp/torchelastic_x/.../error.json"
ERROR_FILE_RE = re.compile(r"^\s*error_file\s*:\s*(?P<path>[^\s<][^\s]{0,4095})\s*$")
MAX_ERROR_FILES = 64
ROOT_CAUSE_MARKER = "Root Cause (first observed failure):"
ROOT_RANK_RE = re.compile(r"^\s*rank\s*:\s*(?P<rank>\d{1,6})\b")
ROOT_CAUSE_WINDOW = 6
USER_CODE_MARKER = "from user code:"  # torch.compile prints the user's frames after it
USER_CODE_WINDOW = 12

Source = str | bytes | BinaryIO | Iterable[bytes]


def parse(source: Source) -> list[Traceback]:
    """Every traceback in `source` (text, bytes, a binary file or an iterable of chunks);
    with none, the lone `SomeError: message` lines, or a small paste as a bare message."""
    found = scan(source)
    return found.tracebacks or found.fallback


@dataclass(frozen=True)
class Scan:
    """What one input holds: the tracebacks; apart from them the weaker finds to fall back
    on (lone `SomeError: message` lines, or a small paste taken as a bare message); and the
    torchelastic error files its ChildFailedError summary names."""

    tracebacks: list[Traceback]
    fallback: list[Traceback]
    error_files: list[str]
    root_rank: str | None = None  # torchrun's "Root Cause (first observed failure)" rank


def scan(source: Source) -> Scan:
    scanner = Scanner()
    for line in iter_lines(chunks_of(source), scanner):
        scanner.feed(line)
    return Scan(*scanner.finish(), list(scanner.error_files), scanner.root_rank)


def chunks_of(source: Source) -> Iterator[bytes]:
    """The input as UTF-8-ish byte chunks (a UTF-16 log, as Windows PowerShell writes, is
    re-encoded, so the trigger words can be found in it)."""
    chunks = raw_chunks(source)
    first = next(chunks, b"")
    if looks_utf16(first):
        decoder = codecs.getincrementaldecoder("utf-16")("replace")
        for chunk in itertools.chain([first], chunks):
            yield decoder.decode(chunk).encode("utf-8", "surrogatepass")
        yield decoder.decode(b"", final=True).encode("utf-8", "surrogatepass")
        return
    yield first
    yield from chunks


def looks_utf16(head: bytes) -> bool:
    """A UTF-16 byte-order mark followed by text whose every other byte is zero (ASCII)."""
    if head[:2] == codecs.BOM_UTF16_LE:
        sample = head[3:202:2]
    elif head[:2] == codecs.BOM_UTF16_BE:
        sample = head[2:202:2]
    else:
        return False
    return len(sample) > 0 and sample.count(0) >= len(sample) * 0.8


def raw_chunks(source: Source) -> Iterator[bytes]:
    if isinstance(source, str):
        yield source.encode("utf-8", "surrogatepass")
    elif isinstance(source, (bytes, bytearray, memoryview)):
        yield bytes(source)
    elif hasattr(source, "read"):
        while chunk := source.read(CHUNK_SIZE):
            yield chunk
    else:
        yield from source


def iter_lines(chunks: Iterable[bytes], scanner: Scanner) -> Iterator[bytes]:
    """Split chunks into lines, skipping lines far from any trigger while the scanner idles."""
    finder = TriggerFinder()
    buffer = b""
    for chunk in chunks:
        scanner.note_raw(chunk)
        buffer += chunk
        start = 0
        while True:
            end = buffer.find(b"\n", start)
            if end < 0:
                break
            if scanner.idle:
                hit = finder.next_hit(buffer, start, end)
                if hit is None:  # no trigger before the last complete line: skip them all
                    start = buffer.rfind(b"\n", start) + 1
                    break
                if hit > end:
                    start = buffer.rfind(b"\n", start, hit) + 1
                    continue
            yield buffer[start:end][:MAX_LINE]
            start = end + 1
        buffer = buffer[start:]
        finder.shift(start)
        if len(buffer) > MAX_LINE:  # a huge line with no newline yet: keep its head and tail
            buffer = buffer[:MAX_LINE // 2] + buffer[-MAX_LINE // 2:]
            finder.reset()
    if buffer:
        yield buffer[:MAX_LINE]


class TriggerFinder:
    """Next position of any trigger word, remembering each word's next hit so that every
    byte is searched once per word, however dense the triggers are."""

    def __init__(self) -> None:
        self.hits: dict[bytes, int] = {}
        self.searched_to: dict[bytes, int] = {}

    def next_hit(self, buffer: bytes, start: int, line_end: int) -> int | None:
        last_newline = buffer.rfind(b"\n")
        best: int | None = None
        for word in TRIGGERS:
            hit = self.hits.get(word, -1)
            if hit < start:
                hit = buffer.find(word, max(start, self.searched_to.get(word, 0)), last_newline)
                self.hits[word] = hit
                self.searched_to[word] = last_newline - len(word) if hit < 0 else hit
            if hit >= start and (best is None or hit < best):
                best = hit
        return best

    def shift(self, offset: int) -> None:
        self.hits = {w: h - offset for w, h in self.hits.items()}
        self.searched_to = {w: max(0, s - offset) for w, s in self.searched_to.items()}

    def reset(self) -> None:
        self.hits.clear()
        self.searched_to.clear()


def clean_line(raw: bytes) -> str:
    """Decode one raw line and remove what a terminal would not show."""
    text = raw.decode("utf-8", "replace").rstrip("\r\n")
    if "\r" in text:  # progress bars redraw with \r: the terminal shows the last redraw
        parts = [p for p in text.split("\r") if p.strip()]
        text = parts[-1] if parts else ""
    if "\x1b" in text:
        text = ANSI_RE.sub("", text)
    return CONTROL_RE.sub("", text).rstrip()


def split_stream(line: str) -> tuple[str | None, str]:
    """Separate a rank / process prefix (`[rank3]:`, `[default3]:`, `[1,3]<stderr>:`)."""
    match = STREAM_RE.match(line)
    if not match:
        return None, line
    return match.group("rank") or match.group("mpi") or match.group("srun"), line[match.end():]


@dataclass
class FrameBuilder:
    file: str
    line: int | None
    function: str | None
    code: str | None = None

    def build(self) -> Frame:
        return Frame(self.file, self.line, self.function, self.code)


@dataclass
class OpenTraceback:
    """A traceback being read: frames first, then the exception line and its message."""

    seq: int
    prefix: str
    jupyter_type: str | None
    relation: str | None
    parent: int | None
    stream: str | None
    frames: deque[FrameBuilder] = field(default_factory=lambda: deque(maxlen=MAX_FRAMES))
    exc_type: str | None = None
    message: list[str] = field(default_factory=list)
    in_message: bool = False
    blank_run: int = 0
    orphan: bool = False
    prefix_re: re.Pattern[str] | None = None
    frame_indent: int | None = None  # lines indented deeper than the frames are code
    inherited: ExceptionInfo | None = None  # frames that belong to an earlier exception
    kind: str = "error"

    @property
    def jupyter(self) -> bool:
        return self.jupyter_type is not None


@dataclass
class StreamState:
    open: OpenTraceback | None = None
    last_seq: int | None = None
    lines_since: int = CHAIN_WINDOW + 1
    pending_relation: str | None = None
    user_code_due: bool = False


class Scanner:
    """The per-line state machine; one StreamState per rank prefix, so interleaved ranks
    each get their own tracebacks."""

    def __init__(self) -> None:
        self.streams: dict[str | None, StreamState] = {}
        self.done: dict[int, Traceback] = {}
        self.orphans: deque[Traceback] = deque(maxlen=MAX_ORPHANS)
        self.next_seq = 0
        self.head = bytearray()
        self.total = 0
        self.line_no = 0
        self.last_close = -IDLE_AFTER - 1
        self.open_count = 0
        self.error_files: dict[str, None] = {}  # torchelastic error files, in order, unique
        self.root_rank: str | None = None
        self.root_cause_due = 0  # lines left in which the root cause's "rank :" is expected

    @property
    def idle(self) -> bool:
        """True when lines may be skipped: nothing is open and no chaining sentence is due.
        Counted in lines of the whole input, so one silent rank cannot keep it busy."""
        return (self.open_count == 0 and not self.root_cause_due
                and self.line_no - self.last_close > IDLE_AFTER)

    def note_raw(self, chunk: bytes) -> None:
        """Keep the head of a small input, for a paste that is only a message."""
        self.total += len(chunk)
        if len(self.head) < SMALL_INPUT:
            self.head += chunk[: SMALL_INPUT - len(self.head)]

    def feed(self, raw: bytes) -> None:
        stream_key, content = split_stream(clean_line(raw))
        content = unquote(content)
        state = self.streams.get(stream_key)
        if state is None:
            if len(self.streams) >= MAX_STREAMS:
                self.prune_streams()
            state = self.streams[stream_key] = StreamState()
        state.lines_since += 1
        self.line_no += 1
        if self.root_cause_due or "error_file" in content or "Root Cause" in content:
            self.note_elastic_summary(content)
        if state.open is not None and self.continue_open(state, content):
            return
        self.start_or_note(state, stream_key, content)

    def note_elastic_summary(self, content: str) -> None:
        """torchrun's ChildFailedError summary (inside that exception's message): the root
        cause's rank and the error files that hold each failed rank's traceback."""
        if self.root_cause_due:
            self.root_cause_due -= 1
            rank = ROOT_RANK_RE.match(content)
            if rank:
                self.root_rank, self.root_cause_due = rank.group("rank"), 0
        if content.strip() == ROOT_CAUSE_MARKER:
            self.root_cause_due = ROOT_CAUSE_WINDOW
        named = ERROR_FILE_RE.match(content) if "error_file" in content else None
        if named and len(self.error_files) < MAX_ERROR_FILES:
            self.error_files[named.group("path")] = None

    def continue_open(self, state: StreamState, content: str) -> bool:
        """Feed a line to the stream's open traceback; False when the line is not its own."""
        tb = state.open
        assert tb is not None
        line = strip_prefix(content, tb.prefix, tb.prefix_re)
        if tb.in_message:
            return self.message_line(state, tb, line)
        if HEADER_RE.search(line) or line.strip() in CHAIN_MARKERS:
            self.close(state, complete=False)
            return False
        if tb.jupyter:
            return self.jupyter_frame_line(state, tb, line)
        return self.cpython_frame_line(state, tb, line)

    def message_line(self, state: StreamState, tb: OpenTraceback, line: str) -> bool:
        stripped = line.strip()
        if tb.kind == "warning":
            return self.warning_source_line(state, tb, line)
        ends = (
            not stripped
            or WARNING_RE.match(line)
            or FENCE_RE.match(line)
            or stripped in CHAIN_MARKERS
            or len(tb.message) >= MAX_MESSAGE_LINES
            or LOG_RECORD_RE.match(line)
            or any(mark in line for mark in PROGRESS_MARKS)
            or FILE_RE.match(line)
        )
        if HEADER_RE.search(line):
            self.close(state)
            return False
        if self.resumes_frames(tb, line):
            return True
        if ends:
            self.close(state)
            return not stripped or bool(FENCE_RE.match(line))
        tb.message.append(line)
        return True

    def warning_source_line(self, state: StreamState, tb: OpenTraceback, line: str) -> bool:
        """A warning is one line, then the source line, indented, if Python could read it;
        anything else is the program's next output."""
        source = line[:1].isspace() and bool(line.strip()) and not FILE_RE.match(line)
        if source:
            tb.frames[-1].code = line.strip()
        self.close(state)
        return source

    def resumes_frames(self, tb: OpenTraceback, line: str) -> bool:
        """A frame line right after a short 'exception line' means that line was noise
        printed between the frames (a warning, a print): drop it and read on."""
        match = FILE_RE.match(line)
        if not match or tb.orphan or tb.jupyter or not tb.frames or len(tb.message) > 3:
            return False
        if indent_of(line) != tb.frame_indent:
            return False
        tb.frames.append(frame_from(match))
        tb.exc_type, tb.message, tb.in_message = None, [], False
        return True

    def cpython_frame_line(self, state: StreamState, tb: OpenTraceback, line: str) -> bool:
        match = FILE_RE.match(line) or PLAIN_FRAME_RE.match(line)
        if match:
            if tb.frame_indent is None:
                tb.frame_indent = indent_of(line)
            tb.frames.append(frame_from(match))
            tb.blank_run = 0
            return True
        if not line.strip() or FENCE_RE.match(line):
            tb.blank_run += 1
            if tb.blank_run > 1:
                self.close(state, complete=False)
            return True
        tb.blank_run = 0
        if is_noise(line):  # a warning or progress bar printed between the frames
            return True
        arrow = DOCS_ARROW_RE.match(line)
        if arrow and tb.frames:  # IPython's %xmode Docs marks the line with "->"
            add_code(tb, " " + arrow.group("code"))
            return True
        if indent_of(line) > (tb.frame_indent or 0) or lost_indent_code(tb, line):
            add_code(tb, line)
            return True
        if tb.inherited is not None:  # the frames of "from user code:" end here
            self.close(state)
            return False
        self.exception_line(tb, line)
        return True

    def jupyter_frame_line(self, state: StreamState, tb: OpenTraceback, line: str) -> bool:
        for regex in (CELL_RE, IPY_FILE_RE, IPY_OLD_RE):
            match = regex.match(line)
            if match:
                tb.frames.append(frame_from(match))
                tb.blank_run = 0
                return True
        arrow = IPY_ARROW_RE.match(line)
        if arrow and tb.frames:
            current = tb.frames[-1]
            current.line = int(arrow.group("line"))
            current.code = (arrow.group("code") or "").strip() or None
            return True
        if (not line.strip() or line[:1].isspace() or line.strip() == "..."
                or FENCE_RE.match(line) or IPY_COLLAPSED_RE.match(line)):
            tb.blank_run = tb.blank_run + 1 if not line.strip() else 0
            if tb.blank_run > 3:
                self.close(state, complete=False)
            return True
        self.exception_line(tb, line)
        return True

    def exception_line(self, tb: OpenTraceback, line: str) -> None:
        match = EXC_LINE_RE.match(line.strip())
        if match:
            tb.exc_type = match.group("type")
            tb.message = [match.group("msg") or ""]
        else:
            tb.exc_type = tb.jupyter_type
            tb.message = [line.strip()]
        tb.in_message = True

    def start_or_note(self, state: StreamState, stream_key: str | None, content: str) -> None:
        header = HEADER_RE.search(content)
        if header:
            self.start(state, stream_key, content, header)
            return
        frame = FILE_RE.match(content)
        if frame:  # a paste that lost its "Traceback (most recent call last):" line
            headless = OpenTraceback(self.take_seq(), "", None, None, None, stream_key,
                                     frame_indent=indent_of(content))
            parent = state.last_seq
            recent = state.lines_since <= USER_CODE_WINDOW
            if state.user_code_due and parent in self.done and recent:
                headless.relation, headless.parent = "user-code", parent
                headless.inherited = self.done[parent].exception
            state.user_code_due = False
            headless.frames.append(frame_from(frame))
            self.begin(state, headless)
            return
        if content.strip() == USER_CODE_MARKER and state.last_seq in self.done:
            state.user_code_due = True
            return
        marker = chain_marker(content)
        if marker and state.lines_since <= CHAIN_WINDOW:
            state.pending_relation = marker
            state.lines_since = 0
            return
        warning = WARNING_RE.match(content) if "Warning: " in content else None
        if warning:
            self.open_warning(state, stream_key, warning)
            return
        orphan = ORPHAN_RE.search(content) if "rror" in content or "xception" in content else None
        if orphan:
            self.open_orphan(state, stream_key, orphan)

    def start(self, state: StreamState, stream_key: str | None, content: str,
              header: re.Match[str]) -> None:
        prefix = content[: header.start()]
        jupyter_type = None
        if not header.group("colon") and not header.group("kind"):
            typed = JUPYTER_TYPE_RE.search(prefix) if len(prefix) <= MAX_PREFIX else None
            if not typed:
                return  # "Traceback (most recent call last)" inside prose
            jupyter_type = typed.group("type")
            prefix = prefix[: typed.start()]
        relation, parent = None, None
        if header.group("kind") == "Original ":
            relation, parent = "original", state.last_seq
        elif state.pending_relation and state.lines_since <= CHAIN_WINDOW:
            relation, parent = state.pending_relation, state.last_seq
        state.pending_relation = None
        tb = OpenTraceback(self.take_seq(), prefix, jupyter_type, relation, parent, stream_key,
                           prefix_re=prefix_pattern(prefix))
        trailing = CELL_RE.match((header.group("rest") or "").strip())
        if trailing:  # IPython's %xmode Docs puts the first frame on the header line
            tb.frames.append(frame_from(trailing))
        self.begin(state, tb)

    def open_orphan(self, state: StreamState, stream_key: str | None,
                    match: re.Match[str]) -> None:
        """A lone `SomeError: message` line: kept in case the input holds no traceback."""
        tb = OpenTraceback(-1, "", None, None, None, stream_key, orphan=True)
        tb.exc_type = match.group("type")
        tb.message = [match.group("msg").rstrip("`").rstrip()]
        tb.in_message = True
        self.begin(state, tb)

    def open_warning(self, state: StreamState, stream_key: str | None,
                     match: re.Match[str]) -> None:
        """`file.py:12: UserWarning: message`, maybe more message lines, then the source line."""
        tb = OpenTraceback(self.take_seq(), "", None, None, None, stream_key, kind="warning")
        tb.frames.append(FrameBuilder(match.group("file"), int(match.group("line")), None))
        tb.exc_type = match.group("type")
        tb.message = [match.group("msg")]
        tb.in_message = True
        self.begin(state, tb)

    def prune_streams(self) -> None:
        """Forget streams with nothing open and, if too many tracebacks are still open, close
        the oldest: a log with endless distinct prefixes stays in bounded memory and time
        (each pruning halves the table, so it costs O(1) per new stream)."""
        open_streams = [(key, s) for key, s in self.streams.items() if s.open is not None]
        excess = len(open_streams) - MAX_STREAMS // 2
        for _, state in open_streams[:max(excess, 0)]:
            self.close(state, complete=False)
        self.streams = dict(open_streams[max(excess, 0):])

    def begin(self, state: StreamState, tb: OpenTraceback) -> None:
        """Open `tb` in its stream (the caller has closed any traceback open there)."""
        state.open = tb
        self.open_count += 1

    def take_seq(self) -> int:
        seq = self.next_seq
        self.next_seq += 1
        return seq

    def close(self, state: StreamState, complete: bool = True) -> None:
        tb = state.open
        if tb is None:
            return
        state.open = None
        self.open_count -= 1
        self.last_close = self.line_no
        built = build(tb, complete and (tb.in_message or tb.inherited is not None))
        if tb.orphan:
            self.orphans.append(built)
            return
        self.done[tb.seq] = built
        if len(self.done) > 2 * MAX_TRACEBACKS:
            for seq in sorted(self.done)[:MAX_TRACEBACKS]:
                del self.done[seq]
        if tb.kind == "warning":  # a chaining sentence or worker traceback never follows one
            return
        state.last_seq = tb.seq
        state.lines_since = 0

    def finish(self) -> tuple[list[Traceback], list[Traceback]]:
        for state in self.streams.values():
            self.close(state, complete=True)
        tracebacks = renumber(self.done)
        if self.orphans:
            return tracebacks, list(self.orphans)
        small = self.total <= SMALL_INPUT and not tracebacks
        return tracebacks, bare_message(bytes(self.head)) if small else []


def chain_marker(content: str) -> str | None:
    """The relation a sentence between two tracebacks announces, if it is such a sentence."""
    stripped = content.strip()
    if SPAWN_MARKER_RE.match(stripped):  # torch.multiprocessing.spawn re-raising a worker's error
        return "original"
    return CHAIN_MARKERS.get(stripped)


def unquote(line: str) -> str:
    """A line pasted as inline code: `Traceback (most recent call last):`."""
    stripped = line.strip()
    if len(stripped) > 1 and stripped[0] == "`" and stripped[-1] == "`" and "``" not in stripped:
        return stripped[1:-1]
    return line


def prefix_pattern(prefix: str) -> re.Pattern[str] | None:
    """The header's prefix as a pattern in which every number may change, in value and in
    width (timestamps); None when there is no prefix or it is too long to be one."""
    if not prefix or len(prefix) > MAX_PREFIX:
        return None
    parts = re.split(r"\d+", prefix)
    return re.compile(r"\d+".join(re.escape(part) for part in parts))


def strip_prefix(line: str, prefix: str, pattern: re.Pattern[str] | None) -> str:
    """Remove the prefix the traceback's header carried (quote marks, a log prefix) when
    this line carries it too."""
    if not prefix:
        return line
    if line.startswith(prefix):
        return line[len(prefix):]
    bare = prefix.rstrip()
    if bare and line.rstrip() == bare:
        return ""
    match = pattern.match(line) if pattern else None
    return line[match.end():] if match else line


def indent_of(line: str) -> int:
    return len(line) - len(line.lstrip())


def is_noise(line: str) -> bool:
    return bool(NOISE_RE.match(line)) or any(mark in line for mark in PROGRESS_MARKS)


def frame_from(match: re.Match[str]) -> FrameBuilder:
    function = match.group("func")
    if function:
        function = function.strip()
        if "(" in function:  # IPython shows `Tensor.backward(self, gradient, ...)`
            function = function[: function.index("(")]
    groups = match.groupdict()
    file = groups.get("file") or groups.get("cell") or groups.get("path") or ""
    line = groups.get("line")
    return FrameBuilder(file.strip(), int(line) if line else None, function)


def lost_indent_code(tb: OpenTraceback, line: str) -> bool:
    """In a paste that lost its indentation, the line after `File ...` is code unless it
    reads like an exception (`SomeError: ...`, `KeyboardInterrupt`)."""
    if not tb.frames or tb.frames[-1].code is not None:
        return False
    match = EXC_LINE_RE.match(line.strip())
    if match is None:
        return True
    name = match.group("type").rsplit(".", 1)[-1]
    return ":" not in line and not EXCEPTION_NAME_RE.search(name)


def add_code(tb: OpenTraceback, line: str) -> None:
    if not tb.frames or CARET_RE.match(line) or line.strip().startswith("[Previous line repeated"):
        return
    current = tb.frames[-1]
    if current.code is None:
        current.code = line.strip()


def build(tb: OpenTraceback, complete: bool) -> Traceback:
    message = "\n".join(tb.message).strip()[:MAX_MESSAGE_CHARS]
    return Traceback(
        exception=tb.inherited or ExceptionInfo(tb.exc_type, message),
        frames=tuple(f.build() for f in tb.frames),
        parent=tb.parent,
        relation=tb.relation,
        stream=tb.stream,
        complete=complete,
        kind=tb.kind,
    )


def renumber(done: dict[int, Traceback]) -> list[Traceback]:
    """Order by start and turn sequence numbers into list indexes (dropped parents: None)."""
    order = sorted(done)
    index = {seq: i for i, seq in enumerate(order)}
    result = []
    for seq in order:
        tb = done[seq]
        parent = index.get(tb.parent) if tb.parent is not None else None
        result.append(Traceback(tb.exception, tb.frames, parent,
                                tb.relation if parent is not None else None, tb.stream,
                                tb.complete, tb.kind))
    return result


def bare_message(head: bytes) -> list[Traceback]:
    """A small paste with no traceback and no `Error:` line may be just the message."""
    lines = [split_stream(clean_line(raw))[1] for raw in bytes(head).split(b"\n")]
    text = " ".join(
        line.strip().lstrip(">").strip().strip("`")
        for line in lines
        if line.strip() and not FENCE_RE.match(line)
    )
    return [Traceback(ExceptionInfo(None, text), complete=False)] if text else []
