"""The fast path of scanning gives what its plain definition gives: every line, cut to
MAX_LINE, is fed to the scanner unless it idles and the line holds no trigger word. Chunk
ends, trigger words found through rare bytes, inert lines left out and the C library's
memmem must change nothing. These are tests of behaviour, not of timing
(scripts/bench/scan.py measures the speed).
"""

from __future__ import annotations

import io
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gradexplain import parser
from gradexplain.parser import MAX_LINE, TRIGGERS, Scan, Scanner, iter_lines, parse, scan

DATA = Path(__file__).parent / "data"
TRACEBACK = b"""Traceback (most recent call last):
  File "/home/u/train.py", line 88, in <module>
    loss.backward()
RuntimeError: grad can be implicitly created only for scalar outputs
"""
BAR = b"\r".join(b"Epoch 3: %3d%%|#####| %d/100 [00:01<00:02, 2.5it/s]" % (p, p)
                 for p in range(5)) + b"\n"
LOGGER = b"2026-11-25 21:00:05,123 INFO trainer: epoch=3 step=5 loss=0.25 lr=3e-4\n"
SPURIOUS = (b"2026-11-25 21:00:59,999 WARNING trainer: slow batch "
            b"(UserWarning: this DataLoader will create 8 workers)\n")
NOISE = (BAR + LOGGER) * 40 + SPURIOUS


def cut(line: bytes) -> bytes:
    half = MAX_LINE // 2
    return line if len(line) <= MAX_LINE else line[:half] + line[-half:]


def reference_scan(data: bytes) -> Scan:
    """Scanning by its definition: the whole input split into lines, with no chunks, no
    trigger finder and no inert lines left out."""
    scanner = Scanner()
    scanner.note_raw(data)
    *lines, unfinished = data.split(b"\n")
    for line in lines:
        if not scanner.idle or any(word in line for word in TRIGGERS):
            scanner.feed(cut(line))
    if unfinished:  # the last line, with no newline, is read whatever it holds
        scanner.feed(cut(unfinished))
    return Scan(*scanner.finish(), list(scanner.error_files), scanner.root_rank)


def chunked(data: bytes, size: int) -> Iterator[bytes]:
    return iter([data[i:i + size] for i in range(0, len(data), size)])


def idle_scanner() -> Scanner:
    scanner = Scanner()
    for _ in range(100):
        scanner.feed(LOGGER.rstrip())
    assert scanner.idle
    return scanner


def fed_lines(data: bytes, chunk_size: int) -> list[bytes]:
    """The lines the scanner reads, fed as they come (so that it idles as in `scan`)."""
    scanner = Scanner()
    fed = []
    for line in iter_lines(chunked(data, chunk_size), scanner):
        scanner.feed(line)
        fed.append(line)
    return fed


@pytest.mark.parametrize("path", sorted((DATA / "captured").glob("*.txt"))
                         + sorted((DATA / "generated").glob("*.txt")), ids=lambda p: p.stem)
def test_captured_tracebacks_in_a_noisy_log_whatever_the_chunks(path: Path) -> None:
    data = NOISE * 3 + path.read_bytes() + b"\n" + NOISE * 3
    expected = reference_scan(data)
    assert scan(data) == expected
    for size in (3, 64, 4093):
        assert scan(chunked(data, size)) == expected, size


def test_chunks_may_end_anywhere_even_inside_a_trigger_word() -> None:
    data = (NOISE + b"/u/a.py:3: UserWarning: deprecated\n  warnings.warn(x)\n" + NOISE
            + b"ValueError: bad\n  error_file: /tmp/e/error.json\nRoot Cause (first observed "
            b"failure):\n  rank : 3\n" + NOISE + TRACEBACK + b"done")
    expected = reference_scan(data)
    assert expected.tracebacks and expected.error_files and expected.root_rank == "3"
    for end in sorted({end for word in TRIGGERS for start in occurrences(data, word)
                       for end in range(start - 1, start + len(word) + 2)}):
        assert scan(iter([data[:end], data[end:]])) == expected, end


def occurrences(data: bytes, word: bytes) -> Iterator[int]:
    start = data.find(word)
    while start >= 0:
        yield start
        start = data.find(word, start + 1)


def test_a_line_without_a_trigger_word_is_left_out_wherever_the_chunks_end() -> None:
    """[rank1]'s chaining sentence comes when the scanner idles: it is not read, so the
    next traceback of [rank1] stands alone, whether or not a chunk starts with it."""
    data = (prefixed(b"[rank1]: ", TRACEBACK + b"\n") + b"[rank0]: step 3\n" * 70
            + b"[rank1]: The above exception was the direct cause of the following "
            b"exception:\n" + prefixed(b"[rank1]: ", TRACEBACK))
    expected = reference_scan(data)
    assert [tb.relation for tb in expected.tracebacks] == [None, None]
    for end in range(len(data)):
        if data[end - 1:end] == b"\n":
            assert scan(iter([data[:end], data[end:]])) == expected, end


def prefixed(prefix: bytes, text: bytes) -> bytes:
    return b"".join(prefix + line for line in text.splitlines(keepends=True))


@pytest.mark.parametrize("word", TRIGGERS)
def test_a_word_is_found_through_any_of_its_bytes(word: bytes) -> None:
    """Whichever byte is its anchor, even right after a place of that byte that is not the
    word, and even when that byte is common (the finder then searches the word whole)."""
    for index in range(len(word)):
        anchor = word[index:index + 1]
        chunk = b"x" + anchor + word + anchor * 3000 + b"\n" + word + b"\n"
        finder = parser.TriggerFinder()
        finder.start(chunk)
        finder.anchors = {word: index}
        assert finder.next_hit(0) == 2
        assert finder.next_hit(3) == len(chunk) - len(word) - 1
        assert finder.next_hit(len(chunk) - len(word)) == parser.NOT_FOUND


def test_a_header_at_the_end_of_a_long_redrawn_progress_bar_is_found() -> None:
    """A bar redrawn with \\r many times, then the traceback on the same line: the line
    keeps its head and its tail, wherever the chunks end."""
    bars = b"\r".join(b"Epoch 1: %3d%%|##########| 1/9 [00:01<00:09]" % (i % 100)
                      for i in range(2000))
    data = NOISE * 2 + bars + TRACEBACK + NOISE
    assert len(bars) > 4 * MAX_LINE
    expected = reference_scan(data)
    assert [tb.exception.type for tb in expected.tracebacks] == ["RuntimeError"]
    for size in (1000, 4096, 1 << 16, len(data)):
        assert scan(chunked(data, size)) == expected, size
    assert max(map(len, fed_lines(data, 4096))) <= MAX_LINE


def test_a_trigger_in_the_middle_of_a_long_line_is_seen_whatever_the_chunks() -> None:
    long_line = b"x" * (3 * MAX_LINE) + b" KeyError: 'lr' " + b"y" * (3 * MAX_LINE) + b"\n"
    data = NOISE * 2 + long_line + b"The above exception was the direct cause\n" + NOISE
    expected = reference_scan(data)
    for size in (999, 4096, 1 << 16):
        assert scan(chunked(data, size)) == expected, size


@pytest.mark.parametrize("end", [b"", b"\n"])
def test_carriage_returns_alone_make_one_long_line(end: bytes) -> None:
    """With no newline the input is one line, kept to its head and tail: the terminal
    shows only its last redraw."""
    data = b"".join(b"step %d loss 0.25\r" % i for i in range(20_000)) + b"RuntimeError: boom\r"
    data = b"start\n" + data + end if end else data  # the line comes whole in a chunk, or cut
    expected = reference_scan(data)
    assert [tb.exception.message for tb in expected.fallback] == ["boom"]
    for size in (7, 4096, len(data)):
        assert scan(chunked(data, size)) == expected, size
    assert [len(line) for line in fed_lines(data, 4096)][-1:] == [MAX_LINE]


def test_inert_lines_are_left_out_and_change_nothing() -> None:
    data = NOISE * 2 + SPURIOUS * 2000 + NOISE + TRACEBACK + NOISE
    assert len(fed_lines(data, 4096)) < 100
    assert scan(chunked(data, 4096)) == reference_scan(data)


IDLE_INERT = [
    SPURIOUS.rstrip(b"\n"),
    SPURIOUS.rstrip(b"\n") + b"\r",  # a CRLF log
    b"epoch 3 (DeprecationWarning: x) and no Error here",  # "Error" but no "Error: "
]
IDLE_LIVE = [
    b"/u/a.py:12: UserWarning: this is a warning line",
    b"WARNING:py.warnings:/u/a.py:3: FutureWarning: old",
    b"slow (UserWarning: y) and then KeyError: 'z'",  # an error line
    b"a.py:1: \x1b[33mUserWarning: coloured",  # cleaning removes the colour code
    b"slow\rb.py:2: UserWarning: redrawn",  # the terminal shows the last redraw
    b"[rank7]: slow (UserWarning: y)",  # a stream not seen yet
    b"slow (UserWarning: caf\xc3\xa9)",  # not ASCII
    b"from user code: (UserWarning: y)",
    b"Root Cause (UserWarning: y)",
    b"  error_file: /tmp/x (UserWarning: y)",
]


@pytest.mark.parametrize("line", IDLE_INERT)
def test_inert_line(line: bytes) -> None:
    assert parser.inert_line(line, idle_scanner())


@pytest.mark.parametrize("line", IDLE_LIVE)
def test_live_line(line: bytes) -> None:
    assert not parser.inert_line(line, idle_scanner())


def test_a_line_soon_after_a_traceback_of_its_stream_is_never_inert() -> None:
    """Counting it could end the window in which a chaining sentence ties the next
    traceback to the last one."""
    scanner = idle_scanner()
    for line in [*TRACEBACK.splitlines(), b""]:
        scanner.feed(line)
    for _ in range(70):
        scanner.feed(b"[rank1]: step")
    assert scanner.idle and not parser.inert_line(SPURIOUS.rstrip(), scanner)


def test_a_busy_scanner_reads_every_line() -> None:
    scanner = idle_scanner()
    scanner.feed(TRACEBACK.splitlines()[0])
    assert not scanner.idle and not parser.inert_line(SPURIOUS.rstrip(), scanner)


def test_lines_after_torch_compiles_user_code_marker_are_counted() -> None:
    """Twelve lines after "from user code:" the frames that follow are no longer the
    user's frames of the last traceback: every line counts, warning-like or not."""
    data = (TRACEBACK + b"\nfrom user code:\n" + b"[rank0]: step 3\n" * 70 + SPURIOUS * 12
            + b'  File "/u/model.py", line 5, in forward\n    return x.sin_()\n\n')
    expected = reference_scan(data)
    assert [tb.relation for tb in expected.tracebacks] == [None, None]
    assert scan(data) == expected


def test_a_rank_that_looks_like_another_is_judged_on_its_own() -> None:
    """[rank1]'s warning-like lines are counted (a chaining sentence was just printed in
    it), though [rank0]'s lines of the same shape are inert."""
    data = (prefixed(b"[rank1]: ", TRACEBACK + b"\n") + b"[rank1]: The above exception was "
            b"the direct cause of the following exception:\n" + b"[rank0]: step 3\n" * 70
            + b"[rank0]: x (UserWarning: y)\n" * 3 + b"[rank1]: x (UserWarning: y)\n" * 5
            + prefixed(b"[rank1]: ", TRACEBACK))
    expected = reference_scan(data)
    assert [tb.relation for tb in expected.tracebacks] == [None, None]
    assert scan(data) == expected


def test_an_anchor_byte_that_turns_out_common_gives_way_to_the_word() -> None:
    """The anchor of "Traceback" is chosen on a first chunk with no T; later chunks full
    of T's make the finder search the word whole, with the same result."""
    first = LOGGER.replace(b"INFO", b"info") * 20_000
    dense = b"Time Total Tokens TFLOPs T=3\n" * 40_000
    data = first + dense + TRACEBACK + dense
    expected = reference_scan(data)
    assert len(expected.tracebacks) == 1
    assert scan(chunked(data, 1 << 20)) == expected


def test_memmem_finds_what_bytes_find_finds() -> None:
    memmem = parser.libc_memmem()
    if memmem is None:
        pytest.skip("no memmem here")
    rng = random.Random(0)
    for _ in range(2000):
        data = bytes(rng.choice(b"Errox \n") for _ in range(rng.randint(0, 200)))
        word = rng.choice([b"Error", b"rr", b"Errorx", b"o o"])
        start, stop = sorted(rng.randint(0, len(data) + 2) for _ in range(2))
        assert memmem(data, word, start, stop) == data.find(word, start, stop)


def test_scan_is_the_same_without_memmem(monkeypatch: pytest.MonkeyPatch) -> None:
    data = NOISE * 400 + b"x (UserWarning: y) KeyError: 'k'\n" + NOISE * 400 + TRACEBACK
    assert len(data) > 4 * parser.MEMMEM_FROM
    fast = scan(data)
    monkeypatch.setattr(parser, "libc_memmem", lambda: None)
    assert scan(data) == fast == reference_scan(data)
    assert fast.tracebacks and fast.fallback


def test_every_kind_of_source_gives_the_same_scan() -> None:
    data = NOISE * 300 + TRACEBACK + NOISE
    expected = scan(data)
    assert len(data) > parser.CHUNK_SIZE // 4
    for source in (data.decode(), bytearray(data), memoryview(data), io.BytesIO(data),
                   (memoryview(data)[i:i + 5000] for i in range(0, len(data), 5000))):
        assert scan(source) == expected  # type: ignore[arg-type]
    assert parse(data) == expected.tracebacks


PIECES = [
    TRACEBACK, b'  File "/u/b.py", line 3, in f\n', b"    y = f(x)\n", b"\n", b"\r", b"\r\n",
    b"The above exception was the direct cause of the following exception:\n",
    b"During handling of the above exception, another exception occurred:\n",
    b"Original Traceback (most recent call last):\n", b"[rank1]: ", b"[rank0]: ", b"3: ",
    b"from user code:\n", b"/u/a.py:12: UserWarning: odd\n", b"  warnings.warn(x)\n",
    SPURIOUS, b"x (UserWarning: y) Error here\n", b"log: SomeException: boom\n",
    b"Root Cause (first observed failure):\n", b"  rank : 3\n", b"  error_file: /tmp/e.json\n",
    b"\x1b[31m", b"`", b"\xc3\xa9", b"Traceback", b"Warning: ", b'File "', b"Error",
]
BLOCKS = st.sampled_from(PIECES) | st.sampled_from([NOISE, LOGGER * 70, b"z" * 20_000])


@settings(max_examples=150, deadline=None)
@given(st.lists(BLOCKS, max_size=30).map(b"".join), st.integers(1, 5000))
def test_any_log_and_any_chunks_scan_as_defined(data: bytes, size: int) -> None:
    assert scan(chunked(data, size)) == reference_scan(data)
