"""Find every Python traceback in arbitrary text: logs, pastes, notebooks, multi-rank output.

The input is read as a stream of byte lines, so a log of any size is scanned in bounded
memory. While no traceback is open, whole stretches of the input are skipped: a few
trigger words are found at C speed (mostly memchr on a rare byte of each), and only the
lines with one go through the per-line state machine. Nothing here may raise on any
input: every line is decoded with replacement, cut to a bounded length and cleaned of
colour codes and control characters.
"""

from __future__ import annotations

import codecs
import functools
import heapq
import itertools
import re
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from gradexplain.model import ExceptionInfo, Frame, Traceback

TYPE_CHECKING = False  # importing typing costs 10 ms; annotations are strings
if TYPE_CHECKING:
    from typing import BinaryIO

    Source = str | bytes | BinaryIO | Iterable[bytes]  # what scan() reads

CHUNK_SIZE = 1 << 20
MAX_LINE = 16 * 1024  # longer lines keep their head and tail: no traceback line is this long
MAX_MESSAGE_LINES = 100
MAX_MESSAGE_CHARS = 64 * 1024
MAX_FRAMES = 2000  # deep recursion: keep the outermost and innermost frames
OUTER_FRAMES = 100  # of MAX_FRAMES, the outermost: where the user's code began
MAX_TRACEBACKS = 1000  # per input; the oldest are dropped first
# and at most this much text kept from closed tracebacks, a frame counting FRAME_COST more
# (what its objects take): a log of endless deep tracebacks is read in bounded memory
MAX_KEPT = 16 << 20
FRAME_COST = 256
MAX_ORPHANS = 16
SMALL_INPUT = 64 * 1024  # a paste this small may be a bare message with no exception type
CHAIN_WINDOW = 4  # lines after a traceback in which a chaining sentence links the next one
IDLE_AFTER = 64  # input lines after the last traceback closed before lines are skipped again
TRIGGERS = (b"Traceback", b"Error", b"Exception", b'File "', b"Warning: ", b"Root Cause (",
            b"error_file")
LONGEST_TRIGGER = max(map(len, TRIGGERS))
NOT_FOUND = 1 << 62  # past any chunk
ANCHOR_SAMPLE = 64 * 1024  # bytes counted to choose each trigger word's anchor byte
ANCHOR_EVERY = 64  # chunks after which the anchors are chosen again, as the log changes
RARE_ANCHOR = 1024  # an anchor is at most one byte in this many of the sample
DENSE_ANCHOR = 1024  # places of anchors that are not their word, per chunk, before giving up
MEMMEM_FROM = 64 * 1024  # shorter searches keep to bytes.find: loading ctypes takes 5 ms
MAX_SHAPES = 256  # line shapes whose inert_line answer is kept
DIGITS_TO_ZERO = bytes.maketrans(b"123456789", b"000000000")

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
# IPython's `RuntimeError    Traceback`: matched on the reversed prefix (see jupyter_type_of)
JUPYTER_TAIL_RE = re.compile(r"\s{2,}(?P<word>[\w.]{1,201})")
TYPE_START_RE = re.compile(r"[A-Za-z_]")
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
QUIET_AFTER = max(CHAIN_WINDOW, USER_CODE_WINDOW)  # lines in a stream after which none is tied
# For `inert_line`: what `start_or_note` and `note_elastic_summary` look for in a line (the
# strings their patterns need), and what a warnings-module line needs to hold.
LIVE_WORDS = ("Traceback", 'File "', "Error: ", "Exception: ", "error_file", "Root Cause",
              USER_CODE_MARKER)
WARNING_SHAPE_RE = re.compile(r":\d+: [\w.]*Warning: ")



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
    first = next((chunk for chunk in chunks if chunk), b"")  # the BOM is in the first bytes
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
    """The input in chunks; text and bytes are cut into CHUNK_SIZE pieces, each small enough
    to stay in the CPU cache while every trigger word is searched in it."""
    if isinstance(source, str):
        source = source.encode("utf-8", "surrogatepass")
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        for start in range(0, len(data), CHUNK_SIZE):
            yield data[start:start + CHUNK_SIZE]
    elif hasattr(source, "read"):
        while chunk := source.read(CHUNK_SIZE):
            yield chunk if isinstance(chunk, bytes) else bytes(chunk)
    else:  # searching needs bytes: a memoryview has no find
        yield from (chunk if isinstance(chunk, bytes) else bytes(chunk) for chunk in source)


def iter_lines(chunks: Iterable[bytes], scanner: Scanner) -> Iterator[bytes]:
    """Split chunks into lines, each cut to MAX_LINE; while the scanner idles, leave out the
    lines with no trigger word and those it would read for nothing (`inert_line`). Which
    lines come out does not depend on where the chunks end."""
    return LineSplitter(scanner).split(chunks)


class LineSplitter:
    """What `iter_lines` keeps: the unfinished line, the trigger finder, and the answers of
    `inert_line` by the shape of the line (its digits made 0), for a logger's lines that
    differ only in their numbers; they hold while the scanner reads no line."""

    def __init__(self, scanner: Scanner) -> None:
        self.scanner = scanner
        self.finder = TriggerFinder()
        self.carry = PartialLine()
        self.inert_shapes: dict[bytes, bool] = {}
        self.shapes_line_no = -1  # the scanner's line count when inert_shapes was filled

    def split(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        scanner, carry, finder = self.scanner, self.carry, self.finder
        for chunk in chunks:
            scanner.note_raw(chunk)
            finder.start(chunk)
            first = chunk.find(b"\n")
            if first < 0:
                carry.extend(chunk, finder.next_hit(0) < NOT_FOUND)
                continue
            carry.extend(chunk[:first], finder.next_hit(0) < first)
            line, triggered = carry.take()
            if not scanner.idle or (triggered and not self.inert(line)):
                yield line
            last = chunk.rfind(b"\n")
            yield from self.complete_lines(chunk, first + 1, last)
            carry.extend(chunk[last + 1:], finder.next_hit(last + 1) < NOT_FOUND)
        if not carry.empty:
            yield carry.take()[0]

    def complete_lines(self, chunk: bytes, pos: int, stop: int) -> Iterator[bytes]:
        """The lines of chunk[pos:stop] (`stop`: the chunk's last newline) the scanner
        needs: all of them while it reads, and while it idles the lines with a trigger word
        that are not inert."""
        scanner, finder = self.scanner, self.finder
        while pos <= stop:
            if not scanner.idle:
                end = chunk.find(b"\n", pos)
                yield cut_line(chunk, pos, end)
                pos = end + 1
                continue
            hit = finder.next_hit(pos)
            if hit >= stop:
                return
            pos = max(pos, chunk.rfind(b"\n", pos, hit) + 1)
            end = chunk.find(b"\n", hit)
            line = cut_line(chunk, pos, end)
            if not self.inert(line):
                yield line
            pos = end + 1

    def inert(self, line: bytes) -> bool:
        """`inert_line`, remembered by shape: digits change neither the patterns' verdicts
        nor the words found, except in a stream prefix, whose digits name the stream."""
        if self.shapes_line_no != self.scanner.line_no or len(self.inert_shapes) > MAX_SHAPES:
            self.inert_shapes.clear()
            self.shapes_line_no = self.scanner.line_no
        shape = line.translate(DIGITS_TO_ZERO)
        answer = self.inert_shapes.get(shape)
        if answer is None:
            answer = inert_line(line, self.scanner)
            if not STREAM_RE.match(line.decode("latin-1")):
                self.inert_shapes[shape] = answer
        return answer


def cut_line(chunk: bytes, start: int, end: int) -> bytes:
    """chunk[start:end], or its head and its tail when longer than MAX_LINE: the tail of a
    progress bar redrawn with \\r is what the terminal shows, and may end in a header."""
    if end - start <= MAX_LINE:
        return chunk[start:end]
    return chunk[start:start + MAX_LINE // 2] + chunk[end - MAX_LINE // 2:end]


def inert_line(line: bytes, scanner: Scanner) -> bool:
    """True for a line with a trigger word that the idle scanner would read for nothing, as
    a logger line quoting `(UserWarning: ...)`, which is no `file.py:12: UserWarning:` line:
    in a big log, thousands of them cost more than all the rest. Only printable ASCII lines
    qualify, which cleaning leaves as they are but for trailing blanks; then the line must
    lack what `feed` and `start_or_note` look for, and its stream be `unmoved_by` it."""
    text = line.decode("latin-1").rstrip("\r")
    if not (text.isascii() and text.isprintable()) or WARNING_SHAPE_RE.search(text):
        return False
    for word in LIVE_WORDS:
        if word in text:
            return False
    return scanner.unmoved_by(split_stream(text.rstrip())[0])


class PartialLine:
    """The unfinished last line of the chunks read so far, in bounded memory: once longer
    than MAX_LINE only its head and its latest bytes are kept, and whether a trigger word
    was seen in it."""

    def __init__(self) -> None:
        self.head = b""  # the line's first MAX_LINE // 2 bytes, once it is cut
        self.tail = b""  # the rest of the line; once cut, only its last MAX_LINE // 2 bytes
        self.triggered = False

    @property
    def empty(self) -> bool:
        return not self.tail and not self.head

    def extend(self, more: bytes, found: bool) -> None:
        """Add `more` to the line; `found`: a trigger word is in it. One that spans the
        old end of the line is looked for here."""
        if not more:
            return
        if not self.triggered:
            seam = self.tail[1 - LONGEST_TRIGGER:] + more[:LONGEST_TRIGGER - 1]
            self.triggered = found or any(seam.find(word) >= 0 for word in TRIGGERS)
        tail = self.tail + more
        if not self.head and len(tail) > MAX_LINE:
            self.head = tail[:MAX_LINE // 2]
        self.tail = tail[-(MAX_LINE // 2):] if self.head else tail

    def take(self) -> tuple[bytes, bool]:
        """The line, cut as `cut_line` cuts, and whether it holds a trigger word; the carry
        is empty afterwards."""
        line, triggered = self.head + self.tail, self.triggered
        self.head, self.tail, self.triggered = b"", b"", False
        return line, triggered


class TriggerFinder:
    """The next trigger word in one chunk, for the idle scanner to skip to.

    A word's `find` runs at 1-2 GB/s and, one pass per word, took most of the time spent
    on a big log; a one-byte `find` is memchr, tens of GB/s on a chunk in the cache. So each
    word is searched through its anchor, the byte of it that is rarest in the input, and
    every anchor found is checked against the whole word; a word whose bytes are all common
    in this input is searched whole. Each word's next hit is remembered, so every byte is
    searched about once per word, however dense the triggers are."""

    def __init__(self) -> None:
        self.anchors: dict[bytes, int] = {}  # word -> index of its anchor; absent: whole word
        self.chunks_left = 0  # before the anchors are chosen again
        self.chunk = b""
        self.hits: list[tuple[int, bytes]] = []  # a heap of (next hit, word)
        self.misses = 0  # places of anchors, in this chunk, that were not their word

    def start(self, chunk: bytes) -> None:
        """Search `chunk` from now on: the words wholly in it."""
        if self.chunks_left <= 0:
            self.anchors = choose_anchors(chunk[:ANCHOR_SAMPLE])
            self.chunks_left = ANCHOR_EVERY
        self.chunks_left -= 1
        self.chunk = chunk
        self.hits = sorted((-1, word) for word in TRIGGERS)
        self.misses = 0

    def next_hit(self, pos: int) -> int:
        """Where the first trigger word at or after `pos` starts, or NOT_FOUND; `pos` may
        only grow from one call to the next within a chunk."""
        hits = self.hits
        while hits[0][0] < pos:
            word = hits[0][1]
            heapq.heapreplace(hits, (self.find(word, pos), word))
        return hits[0][0]

    def find(self, word: bytes, pos: int) -> int:
        index = self.anchors.get(word)
        if index is None:
            return find_word(self.chunk, word, pos)
        chunk, anchor = self.chunk, word[index]
        at = chunk.find(anchor, pos + index)
        while at >= 0:
            if chunk.startswith(word, at - index):
                return at - index
            self.misses += 1
            if self.misses > DENSE_ANCHOR:  # common here after all: search the word whole
                del self.anchors[word]
                self.misses, self.chunks_left = 0, 0
                return self.find(word, at - index + 1)
            at = chunk.find(anchor, at + 1)
        return NOT_FOUND


def find_word(chunk: bytes, word: bytes, start: int) -> int:
    """Where `word` first starts in chunk[start:], or NOT_FOUND. A long search goes to the
    C library's memmem, which hashes pairs of bytes and runs about three times as fast as
    `bytes.find` on a word with no rare byte; the answer is the same."""
    stop = len(chunk)
    memmem = libc_memmem() if stop - start >= MEMMEM_FROM else None
    hit = memmem(chunk, word, start, stop) if memmem else chunk.find(word, start)
    return hit if hit >= 0 else NOT_FOUND


@functools.cache
def libc_memmem() -> Callable[[bytes, bytes, int, int], int] | None:
    """The C library's memmem, called as `bytes.find` with bounds is; None where ctypes
    cannot load it (Windows has none)."""
    try:
        import ctypes

        memmem = ctypes.CDLL(None).memmem
    except (ImportError, OSError, AttributeError, TypeError):
        return None
    memmem.restype = ctypes.c_void_p
    memmem.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t)

    def find(chunk: bytes, word: bytes, start: int, stop: int) -> int:
        base = ctypes.cast(ctypes.c_char_p(chunk), ctypes.c_void_p).value
        stop = min(stop, len(chunk))  # memmem must not read past the chunk
        if base is None or not 0 <= start < stop:
            return chunk.find(word, start, stop)
        found = memmem(base + start, stop - start, word, len(word))
        return found - base if found else -1

    return find


def choose_anchors(sample: bytes) -> dict[bytes, int]:
    """For each trigger word, the index of its byte rarest in `sample`, where that byte is
    rare enough for checking each of its places to beat searching the word whole."""
    counts = {byte: sample.count(byte) for byte in set(b"".join(TRIGGERS))}
    limit = len(sample) // RARE_ANCHOR
    anchors = {}
    for word in TRIGGERS:
        rarest = min(word, key=counts.__getitem__)
        if counts[rarest] <= limit:
            anchors[word] = word.index(rarest)
    return anchors


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


class FrameList:
    """A traceback's frames, at most MAX_FRAMES: past that (deep recursion) the middle
    ones are dropped, since the outermost show the user's code that started it (often
    library code recurses: copy.deepcopy, torch.fx) and the innermost where it failed."""

    def __init__(self) -> None:
        self.outer: list[FrameBuilder] = []
        self.inner: deque[FrameBuilder] = deque(maxlen=MAX_FRAMES - OUTER_FRAMES)

    def append(self, frame: FrameBuilder) -> None:
        if len(self.outer) < OUTER_FRAMES:
            self.outer.append(frame)
        else:
            self.inner.append(frame)

    @property
    def last(self) -> FrameBuilder:
        return self.inner[-1] if self.inner else self.outer[-1]

    def __len__(self) -> int:
        return len(self.outer) + len(self.inner)

    def __iter__(self) -> Iterator[FrameBuilder]:
        return itertools.chain(self.outer, self.inner)


@dataclass
class OpenTraceback:
    """A traceback being read: frames first, then the exception line and its message."""

    seq: int
    prefix: str
    jupyter_type: str | None
    relation: str | None
    parent: int | None
    stream: str | None
    frames: FrameList = field(default_factory=FrameList)
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
        self.sizes: dict[int, int] = {}  # of the tracebacks in done, see MAX_KEPT
        self.kept = 0
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

    def unmoved_by(self, stream_key: str | None) -> bool:
        """True when a line of this stream that opens nothing would change nothing that
        matters: the scanner idles, the stream is known (a new one could prune others) and
        its last traceback is too far back for a chaining sentence or torch.compile's user
        frames to be tied to it, so counting one more line in it changes nothing."""
        state = self.streams.get(stream_key)
        return state is not None and state.lines_since > QUIET_AFTER and self.idle

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
            tb.frames.last.code = line.strip()
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
            current = tb.frames.last
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
            typed = jupyter_type_of(prefix) if len(prefix) <= MAX_PREFIX else None
            if not typed:
                return  # "Traceback (most recent call last)" inside prose
            jupyter_type, prefix = typed
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
        self.sizes[tb.seq] = size_of(built)
        self.kept += self.sizes[tb.seq]
        if len(self.done) > 2 * MAX_TRACEBACKS or self.kept > 2 * MAX_KEPT:
            self.drop_oldest()
        if tb.kind == "warning":  # a chaining sentence or worker traceback never follows one
            return
        state.last_seq = tb.seq
        state.lines_since = 0

    def drop_oldest(self) -> None:
        """Keep the newest tracebacks within MAX_TRACEBACKS and MAX_KEPT (the newest one
        whatever its size). Called at twice the limits, so the sort is paid once per many
        tracebacks."""
        newest_first = sorted(self.done, reverse=True)
        count, kept = 0, 0
        for seq in newest_first:
            if count and (count == MAX_TRACEBACKS or kept + self.sizes[seq] > MAX_KEPT):
                break
            count, kept = count + 1, kept + self.sizes[seq]
        for seq in newest_first[count:]:
            del self.done[seq], self.sizes[seq]
        self.kept = kept

    def finish(self) -> tuple[list[Traceback], list[Traceback]]:
        for state in self.streams.values():
            self.close(state, complete=True)
        tracebacks = renumber(self.done)
        if self.orphans:
            return tracebacks, list(self.orphans)
        small = self.total <= SMALL_INPUT and not tracebacks
        return tracebacks, bare_message(bytes(self.head)) if small else []


def jupyter_type_of(prefix: str) -> tuple[str, str] | None:
    """The exception type IPython prints before its header, two or more blanks before it,
    and the prefix before the type. Read from the end: a forward search for a word that
    must end the line backtracks quadratically over a long run of word characters."""
    tail = JUPYTER_TAIL_RE.match(prefix[::-1])
    if not tail:
        return None
    word = tail.group("word")[::-1]
    start = TYPE_START_RE.search(word)
    if not start:
        return None
    return word[start.start():], prefix[: len(prefix) - tail.end() + start.start()]


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
    if not tb.frames or tb.frames.last.code is not None:
        return False
    match = EXC_LINE_RE.match(line.strip())
    if match is None:
        return True
    name = match.group("type").rsplit(".", 1)[-1]
    return ":" not in line and not EXCEPTION_NAME_RE.search(name)


def add_code(tb: OpenTraceback, line: str) -> None:
    if not tb.frames or CARET_RE.match(line) or line.strip().startswith("[Previous line repeated"):
        return
    current = tb.frames.last
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


def size_of(tb: Traceback) -> int:
    return len(tb.exception.message) + sum(
        FRAME_COST + len(f.file) + len(f.function or "") + len(f.code or "") for f in tb.frames)


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
