"""Fuzz and property tests: hostile input never makes gradexplain crash, hang or bloat.

The promise (issue text): random bytes, huge single lines, deep chains, 100k frames, NUL
bytes, invalid UTF-8, colour codes, `\\r` storms and a traceback cut at every byte give no
crash, bounded time and memory, exit status 0/1/2 as documented and, for the tool's own
errors, one clear line on stderr.

The inputs are built from real lines (every line of the captured and generated logs in
tests/data) mixed with what terminals, loggers and broken pipes add. Most checks run in
process, where thousands of inputs take seconds (the default run: about 7,000, the cuts
included); the CLI runs in a subprocess for a few dozen cases only, and peak memory is
measured in a fresh process. The 100,000-input run, 5,000 more hypothesis examples and the
slowest inputs are marked slow (scripts/test and CI run them). Everything is seeded or
derandomized, so a failure repeats.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import GRADEXPLAIN, ROOT, child_env
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gradexplain import knowledge
from gradexplain.document import build_document
from gradexplain.explain import explain
from gradexplain.model import Entry, Report, Traceback
from gradexplain.parser import MAX_FRAMES, MAX_LINE, MAX_MESSAGE_CHARS, Scan, parse, scan
from gradexplain.render import render_json, render_markdown, render_text

DATA = ROOT / "tests" / "data"
SEED_FILES = sorted([*DATA.glob("captured/*.txt"), *DATA.glob("generated/*.txt")])
SEEDS = tuple(path.read_bytes() for path in SEED_FILES)
REAL_LINES = tuple(sorted({line for seed in SEEDS for line in seed.splitlines() if line.strip()}))
CHAINED = DATA / "captured" / "item-nonscalar-chained-during-handling.txt"
CHAINED_ENTRY = "item-nonscalar"
NONSCALAR = b"RuntimeError: grad can be implicitly created only for scalar outputs"
NONSCALAR_ENTRY = "nonscalar-backward"
HEADER = b"Traceback (most recent call last):"
DURING = b"During handling of the above exception, another exception occurred:"
CAUSE = b"The above exception was the direct cause of the following exception:"
# what terminals, loggers, notebooks, launchers and broken encodings add to real lines
HOSTILE = (
    HEADER, DURING, CAUSE, b"Original " + HEADER, b"Exception Group " + HEADER,
    b'  File "train.py", line 3, in <module>', b"    loss.backward()", b"    ^^^^^^^^^^^^^^^",
    b'  File "/usr/lib/python3.11/site-packages/torch/_tensor.py", line 522, in backward',
    b'  File "/home/\xc3\xa9t\xc3\xa9/model.py", line 40, in forward', NONSCALAR,
    b"RuntimeError                              Traceback (most recent call last)",
    b"Cell In[3], line 5", b"----> 5 loss.backward()", b"      3 x = 1",
    b"File ~/x.py:12, in f(a)", b"<ipython-input-1-abc> in <module>", b"1 frames",
    b"[rank3]:", b"[rank0]: ", b"[default1]:", b"[1,2]<stderr>:", b"0: ", b"> ", b"`", b"```",
    b"2024-01-01 12:00:00,123 ERROR ", b"[W101 12:00:00.000 init.cpp:1] Warning: x",
    b"-- Process 2 terminated with the following error:", b"from user code:",
    b"Root Cause (first observed failure):", b"  rank      : 3",
    b"  error_file: /nonexistent/torchelastic_fuzz/0/error.json",
    b"train.py:3: UserWarning: The .grad attribute of a Tensor that is not a leaf Tensor",
    b" 50%|#####     | 5/10 [00:01<00:01,  4.92it/s]", b"  [Previous line repeated 996 more times]",
    b"  + Exception Group Traceback (most recent call last):", b"  | ", b"KeyboardInterrupt",
    b"\x1b[31m", b"\x1b[0m", b"\x1b[1;31m", b"\x1b]8;;http://x\x1b\\", b"\x1b[", b"\x1b",
    b"\x1b[?25l", b"\r", b"\r\n", b"\n", b"\n", b"\n", b"\x00", b"\t", b"\x0c", b"\x7f", b"\x08",
    b"\xff", b"\xfe", b"\xc3", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xe2\x82", b"\xc2\x9b",
    b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", "\u2028\u202e".encode(), b"    ",
)
PIECES = REAL_LINES + HOSTILE
CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # what no parsed text may keep
# the tool's own crash, as opposed to the traceback it was given to explain
OWN_TRACEBACK_RE = re.compile(r"Traceback \(most recent call last\):\n\s+File \"[^\"]*gradexplain")
QUICK = settings(max_examples=400, deadline=None, derandomize=True, database=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                        HealthCheck.large_base_example])


@pytest.fixture(scope="module")
def entries() -> tuple[Entry, ...]:
    return knowledge.load(knowledge.search_dirs()).entries


# ---- inputs ------------------------------------------------------------------------------

def hostile_input(rng: random.Random) -> bytes:
    """One input: random bytes, a soup of real and hostile lines, or a real log damaged
    the ways logs are (pieces inserted, spans deleted, cut, prefixed, repeated)."""
    kind = rng.random()
    if kind < 0.1:
        return rng.randbytes(rng.randint(0, 400))
    if kind < 0.45:
        return soup(rng)
    return damaged(rng, bytearray(rng.choice(SEEDS)))


def soup(rng: random.Random) -> bytes:
    parts = []
    for _ in range(rng.randint(0, 60)):
        roll = rng.random()
        if roll < 0.85:
            parts.append(rng.choice(PIECES) + rng.choice((b"\n", b"\n", b"", b"\r\n", b" ")))
        elif roll < 0.97:
            parts.append(rng.randbytes(rng.randint(1, 12)))
        elif roll < 0.995:
            parts.append(rng.choice(PIECES) * rng.randint(2, 20))
        else:  # a line past MAX_LINE
            parts.append(rng.choice(PIECES) * rng.randint(200, 400))
    return b"".join(parts)


def damaged(rng: random.Random, data: bytearray) -> bytes:
    for _ in range(rng.randint(0, 10)):
        at = rng.randint(0, len(data))
        roll = rng.random()
        if roll < 0.35:
            data[at:at] = rng.choice(PIECES) + rng.choice((b"", b"\n"))
        elif roll < 0.55:
            del data[at:at + rng.randint(1, 80)]
        elif roll < 0.7:
            data[at:at] = rng.randbytes(rng.randint(1, 6))
        elif roll < 0.8:
            del data[at:]
        elif roll < 0.9:
            prefix = rng.choice((b"[rank1]: ", b"\x1b[31m", b"> ", b"0: ", b"\r"))
            data = bytearray(b"\n".join(prefix + line for line in bytes(data).split(b"\n")))
        elif len(data) < 4096:
            data = bytearray(bytes(data) * rng.randint(2, 4))
    return bytes(data)


def random_chunks(rng: random.Random, data: bytes) -> list[bytes]:
    """The input cut anywhere, empty chunks included, as a pipe may deliver it."""
    chunks, at = [], 0
    while at < len(data):
        size = rng.choice((0, 1, 2, 7, 64, 1000, 20000))
        chunks.append(data[at:at + size])
        at += size
    return chunks


def starts_utf16(data: bytes) -> bool:
    """UTF-16 is recognised from the first chunk alone: such inputs are not re-chunked."""
    return data[:2] in (b"\xff\xfe", b"\xfe\xff")


fragment_soup = st.lists(
    st.sampled_from(PIECES) | st.binary(max_size=16)
    | st.tuples(st.sampled_from(PIECES), st.integers(2, 300)).map(lambda p: p[0] * p[1]),
    max_size=50,
).map(b"\n".join)


@st.composite
def damaged_seed(draw: st.DrawFn) -> bytes:
    """A real log with a few pieces put in at drawn places, then maybe cut."""
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(0, 6))):
        at = draw(st.integers(0, len(data)))
        data[at:at] = draw(st.sampled_from(HOSTILE) | st.binary(min_size=1, max_size=8))
    cut = draw(st.integers(0, len(data)))
    return bytes(data[:cut]) if draw(st.booleans()) else bytes(data)


hostile_bytes = st.binary(max_size=2048) | fragment_soup | damaged_seed()


# ---- checks ------------------------------------------------------------------------------

def check_traceback(index: int, tb: Traceback) -> None:
    """What every parsed traceback holds, whatever the input: bounded, clean text and a
    chain that points backwards."""
    assert isinstance(tb.exception.message, str)
    assert len(tb.exception.message) <= MAX_MESSAGE_CHARS
    assert not CONTROL_RE.search(tb.exception.message)
    assert len(tb.frames) <= MAX_FRAMES
    for frame in tb.frames:
        for text in (frame.file, frame.function or "", frame.code or ""):
            assert "\n" not in text and not CONTROL_RE.search(text), frame
    assert tb.parent is None or 0 <= tb.parent < index
    assert (tb.relation is None) == (tb.parent is None)


def check_scan(found: Scan) -> None:
    for index, tb in enumerate(found.tracebacks):
        check_traceback(index, tb)
    for tb in found.fallback:
        check_traceback(0, tb)
    for path in found.error_files:
        assert not CONTROL_RE.search(path)


def check_report(report: Report) -> tuple[str, str]:
    """Every output format renders, JSON parses, and no control character of the input
    (a colour code could rewrite the user's terminal) reaches the output."""
    assert report.primary is None or report.analyses[report.primary].matches
    as_json = render_json(report)
    assert json.loads(as_json)["schema"] == 1
    document = build_document(report)
    text = render_text(document, 88)
    markdown = render_markdown(document)
    for output in (text, markdown):
        assert not CONTROL_RE.search(output)
    return text, as_json


def check_everything(data: bytes, entries: tuple[Entry, ...], rng: random.Random) -> None:
    found = scan(data)
    check_scan(found)
    if not starts_utf16(data):
        assert scan(iter(random_chunks(rng, data))) == found
    check_report(explain(data, entries, read_source=False))


def primary_id(report: Report) -> str | None:
    if report.primary is None:
        return None
    return report.analyses[report.primary].matches[0].entry.id


# ---- property tests --------------------------------------------------------------------

@QUICK
@given(data=hostile_bytes)
def test_scan_never_raises_and_keeps_its_bounds(data: bytes) -> None:
    found = scan(data)
    check_scan(found)
    assert parse(data) == (found.tracebacks or found.fallback)
    assert scan(io.BytesIO(data)) == found


@QUICK
@given(data=hostile_bytes, rng=st.randoms(use_true_random=False))
def test_where_chunks_end_changes_nothing(data: bytes, rng: random.Random) -> None:
    """A pipe delivers a log in pieces of any size; what is found must not depend on them."""
    if not starts_utf16(data):
        assert scan(iter(random_chunks(rng, data))) == scan(data)


@settings(QUICK, max_examples=200)
@given(text=st.text(max_size=300)
       | fragment_soup.map(lambda b: b.decode("utf-8", "surrogateescape")))
def test_text_and_its_utf8_bytes_scan_alike(text: str) -> None:
    """A str (lone surrogates included) is scanned as its UTF-8 bytes."""
    assert scan(text) == scan(text.encode("utf-8", "surrogatepass"))


@settings(QUICK, max_examples=600)
@given(data=hostile_bytes)
def test_explain_and_every_renderer_never_raise(data: bytes, entries: tuple[Entry, ...]) -> None:
    check_report(explain(data, entries, read_source=False))


def test_a_thousand_seeded_inputs(entries: tuple[Entry, ...]) -> None:
    """The slow bulk run's generator and checks, on a sample the default run can afford."""
    rng = random.Random(20240601)
    for _ in range(1000):
        check_everything(hostile_input(rng), entries, rng)


# ---- a traceback cut at every byte -------------------------------------------------------

def colour_crlf(line: bytes) -> bytes:
    """The way a coloured terminal log saved on Windows looks."""
    return re.sub(rb"^(\w+Error)", b"\x1b[1;31m\\1\x1b[0m", line) + b"\r"


def rank_prefixed(line: bytes) -> bytes:
    """torchrun's prefix, with a user name that is not ASCII (multi-byte cuts)."""
    return b"[rank0]: " + line.replace(b"/home/spp/", "/home/spé/".encode())


def three_deep_chain() -> bytes:
    """The captured two-link chain, its last traceback re-raised once more with
    `raise ... from` (1.4 KB), followed by the reporter's prose."""
    data = CHAINED.read_bytes()
    prose = data.index(b"\n\nI printed")
    last = data[data.rindex(HEADER):prose]
    return data[:prose] + b"\n\n" + CAUSE + b"\n\n" + last + data[prose:]


@pytest.mark.parametrize("transform", [None, colour_crlf, rank_prefixed],
                         ids=["plain", "colour-crlf", "rank-utf8"])
def test_chained_traceback_cut_at_every_byte(
        transform: Callable[[bytes], bytes] | None, entries: tuple[Entry, ...]) -> None:
    """Every prefix of a real chained traceback parses; every prefix that holds the first
    exception line whole is explained as that error, as a log cut by a crash would be."""
    lines = [transform(line) if transform else line for line in three_deep_chain().split(b"\n")]
    data = b"\n".join(lines)
    exception_line = next(line for line in lines if b"Error" in line)
    whole_from = data.index(exception_line) + len(exception_line.rstrip(b"\r"))
    assert 1300 < len(data) < 2500
    for cut in range(len(data) + 1):
        prefix = data[:cut]
        check_scan(scan(prefix))
        report = explain(prefix, entries, read_source=False)
        if cut >= whole_from:
            assert primary_id(report) == CHAINED_ENTRY, (cut, prefix[-80:])
    assert len(parse(data)) == 3


# ---- what fuzzing found, kept as plain cases ---------------------------------------------

def ranked(rank: int, lines: list[bytes]) -> bytes:
    return b"".join(b"[rank%d]: %s\n" % (rank, line) for line in lines)


CUSTOM_BACKWARD = [  # a custom Function's backward raised: matched by where it was raised
    HEADER, b'  File "/work/train.py", line 9, in <module>', b"    loss.backward()",
    b'  File "/usr/lib/python3.11/site-packages/torch/autograd/graph.py", line 768, in '
    b"_engine_run_backward", b"    return Variable._execution_engine.run_backward(",
    b'  File "/usr/lib/python3.11/site-packages/torch/autograd/function.py", line 306, in apply',
    b"    return user_fn(self, *args)", b'  File "/work/train.py", line 5, in backward',
    b'    raise ValueError("bad grad")', b"ValueError: bad grad"]


def test_rank_group_never_chooses_a_copy_its_entry_does_not_explain(
        entries: tuple[Entry, ...]) -> None:
    """A copy of rank 0's error without the engine frames has the same signature but no
    match: it must not become the primary (rendering it raised IndexError)."""
    copy = b"\n".join([HEADER, CUSTOM_BACKWARD[7], CUSTOM_BACKWARD[-1]]) + b"\n"
    report = explain(ranked(0, CUSTOM_BACKWARD) + copy, entries, read_source=False)
    assert primary_id(report) == "custom-function-backward-exception"
    check_report(report)


def test_rank_group_without_a_root_cause_prefers_a_ranked_traceback(
        entries: tuple[Entry, ...]) -> None:
    """With no torchrun summary naming the root rank, the first rank printed is chosen, not
    the copy without a prefix (which the text called "rank None")."""
    one = [HEADER, b'  File "/work/train.py", line 9, in <module>', b"    loss.backward()",
           NONSCALAR]
    report = explain(ranked(1, one) + ranked(0, one) + b"\n".join(one) + b"\n", entries,
                     read_source=False)
    assert report.primary is not None
    assert report.analyses[report.primary].traceback.stream == "1"
    text, _ = check_report(report)
    assert "rank None" not in text


# ---- big and pathological inputs ---------------------------------------------------------

def traceback_with_frames(count: int) -> Iterator[bytes]:
    """A traceback `count` frames deep, as chunks: the user's script at the bottom of the
    stack, then library code recursing (copy.deepcopy on a model does this)."""
    yield HEADER + b'\n  File "/work/proj/train.py", line 12, in <module>\n    main()\n'
    count -= 1
    frame = (b'  File "/usr/lib/python3.11/copy.py", line %d, in deepcopy\n'
             b"    y = copier(x, memo)\n")
    for start in range(0, count, 1000):
        yield b"".join(frame % (i + 1) for i in range(start, min(count, start + 1000)))
    yield NONSCALAR + b"\n"


def test_100k_frames_keep_the_outermost_and_innermost(entries: tuple[Entry, ...]) -> None:
    """The user's frame is the outermost of 100,000; parsing stays linear and the cut keeps
    both ends of the stack."""
    started = time.perf_counter()
    report = explain(traceback_with_frames(100_000), entries, read_source=False)
    assert time.perf_counter() - started < 10
    tb = report.analyses[0].traceback
    assert len(tb.frames) == MAX_FRAMES
    assert tb.frames[0].file == "/work/proj/train.py"
    assert tb.frames[-1].line == 99_999
    user = report.analyses[0].user_frame
    assert user is not None and user.frame.file == "/work/proj/train.py"
    assert primary_id(report) == NONSCALAR_ENTRY


def test_1000_nested_chained_exceptions(entries: tuple[Entry, ...]) -> None:
    """Each traceback of a 1000-deep "During handling" chain points to the one before."""
    one = HEADER + b'\n  File "train.py", line %d, in step\n    loss.backward()\n' + NONSCALAR
    data = (b"\n\n" + DURING + b"\n\n").join(one % i for i in range(1000))
    started = time.perf_counter()
    report = explain(data, entries, read_source=False)
    assert time.perf_counter() - started < 10
    tracebacks = [a.traceback for a in report.analyses]
    assert len(tracebacks) == 1000
    assert all(tb.parent == i - 1 and tb.relation == "context"
               for i, tb in enumerate(tracebacks) if i)
    assert report.primary == 999 and primary_id(report) == NONSCALAR_ENTRY
    check_report(report)


@pytest.mark.parametrize("noise", [b"\r", b"\x00", b"\x1b[31m\x1b]8;;x\x07\x1b[", b"\xff\xc3"],
                         ids=["cr", "nul", "ansi", "bad-utf8"])
def test_megabytes_of_noise_around_a_traceback(noise: bytes, entries: tuple[Entry, ...]) -> None:
    """A megabyte of noise as one line, as many lines, and inside the exception line: the
    traceback is still found and explained, quickly."""
    storm = noise * (1_000_000 // len(noise))
    lines = b"\n".join([storm[:300]] * 3000)
    data = b"".join([storm, b"\n", lines, b"\n", HEADER, b"\n",
                     b'  File "train.py", line 3, in <module>\n', noise * 20, b"\n",
                     NONSCALAR, noise * 5000, b"\n", storm])
    started = time.perf_counter()
    report = explain(data, entries, read_source=False)
    assert time.perf_counter() - started < 10
    assert primary_id(report) == NONSCALAR_ENTRY
    check_report(report)


def test_ten_megabytes_of_nul(entries: tuple[Entry, ...]) -> None:
    zeros = b"\x00" * (1 << 20)
    report = explain(iter([zeros] * 10), entries, read_source=False)
    assert report.primary is None
    text, _ = check_report(report)
    assert "No traceback found" in text


HOSTILE_LINES = {  # each makes some pattern try many ways to match a line
    "words-before-header": b"a" * 190 + b" Traceback (most recent call last)",
    "dotted-before-header": b"a." * 95 + b"a! Traceback (most recent call last)",
    "colons-in-frame": b"  File " + b"a:1x" * (MAX_LINE // 4),
    "ipython-frames": b"x.py in a(" * (MAX_LINE // 10),
    "warning-colons": b"a:1: " * (MAX_LINE // 5) + b"Warning: ",
    "dotted-error": b"(" + b"A." * (MAX_LINE // 2) + b"rror: x",
    "exception-words": b"Error Exception " * (MAX_LINE // 16),
}


@pytest.mark.parametrize("name", HOSTILE_LINES)
def test_lines_built_to_backtrack_scan_fast(name: str) -> None:
    """4 MB of lines made of what the patterns look for scan at well over 1 MB/s (plain
    logs: about 50 MB/s): no pattern backtracks quadratically over a line. The lines come
    both where a new traceback is looked for and inside an open one (IPython's, to reach
    its frame patterns)."""
    line = HOSTILE_LINES[name]
    lines = (line + b"\n") * (2_000_000 // len(line))
    data = lines + b"RuntimeError    Traceback (most recent call last)\n" + lines
    started = time.perf_counter()
    scan(data)
    assert time.perf_counter() - started < 4, name


PEAK_SCRIPT = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
from test_fuzz import own_peak_kib
from gradexplain import knowledge
from gradexplain.document import build_document
from gradexplain.explain import explain
from gradexplain.render import render_json, render_text
sys.path.insert(0, sys.argv[1])
from test_fuzz import {generator} as chunks
entries = knowledge.load(knowledge.search_dirs()).entries
started = time.perf_counter()
report = explain(chunks(), entries, read_source=False)
render_json(report), render_text(build_document(report), 88)
print(json.dumps({{"seconds": time.perf_counter() - started, "tracebacks": len(report.analyses),
                  "peak_mib": own_peak_kib() / 1024}}))
"""


def own_peak_kib() -> int:
    """This process's peak resident memory since it started Python. VmHWM, not ru_maxrss:
    Linux carries ru_maxrss across fork and exec, so a child of a big pytest process would
    report its parent's peak."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def peak_of(generator: str) -> dict[str, float]:
    """Explain and render what `generator` (a function of this file) yields, in a fresh
    process, so that its peak memory is its own."""
    result = subprocess.run([sys.executable, "-c", PEAK_SCRIPT.format(generator=generator),
                             str(Path(__file__).parent)], capture_output=True, text=True,
                            env=cli_env(), timeout=300)
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


def one_line_of_100_mb() -> Iterator[bytes]:
    """100 MB with no newline, trigger words and colour codes in it, in 1 MB chunks."""
    block = (b"x" * 1000 + b" Traceback Error \x1b[31m\r\x00\xff") * 1024
    for _ in range(100):
        yield block


def many_deep_tracebacks() -> Iterator[bytes]:
    """1000 tracebacks of 1000 frames (84 MB): a log of recursion errors."""
    for _ in range(1000):
        yield from traceback_with_frames(1000)


def test_100_mb_single_line_in_bounded_memory() -> None:
    peak = peak_of("one_line_of_100_mb")
    assert peak["peak_mib"] < 200 and peak["seconds"] < 60, peak


@pytest.mark.slow
def test_many_deep_tracebacks_in_bounded_memory() -> None:
    """Whatever a log holds, what is kept of it is bounded: not all of its million frames."""
    peak = peak_of("many_deep_tracebacks")
    assert peak["peak_mib"] < 300 and peak["seconds"] < 120, peak


def real_line(start: bytes) -> bytes:
    """The first line of the captured logs that starts so: a message as torch prints it."""
    return next(line for line in REAL_LINES if line.startswith(start))


HOSTILE_SOURCES = {  # user files the code readers (ast, tokenize, finders) must survive
    "syntax-warnings": b'import re\nx = 1if True else 2\npattern = re.compile("\\d+")\n',
    "deep-parentheses": b"x = " + b"(" * 5000 + b"1" + b")" * 5000 + b"\n",
    "long-attribute-chain": b"loss = a" + b".b" * 10_000 + b"\n",
    "deep-blocks": b"".join(b" " * i + b"if x:\n" for i in range(100)) + b" " * 100 + b"y=1\n",
    "nul-bytes": b"x = 1\x00\n" * 1000,
    "invalid-utf8": b"x = '\xff\xfe\xc3'\n" * 100,
}
FAILING_LOOP = b"for step in range(3):\n    loss = loss + h\n    loss.backward()\n"


@pytest.mark.parametrize("source", HOSTILE_SOURCES)
def test_user_files_that_fight_the_code_reader(source: str, tmp_path: Path,
                                               entries: tuple[Entry, ...]) -> None:
    """The traceback names a file that is here: it is read, parsed and searched for the
    cause. Whatever it holds, the explanation comes, quickly, and no warning about the
    user's code reaches our stderr."""
    path = tmp_path / "train.py"
    path.write_bytes(HOSTILE_SOURCES[source] + FAILING_LOOP)
    frame = b'  File "%s", line %d, in <module>\n    loss.backward()\n' % (
        str(path).encode(), path.read_bytes().count(b"\n"))
    for message, entry in [(NONSCALAR, NONSCALAR_ENTRY),
                           (real_line(b"RuntimeError: element 0 of"), "no-grad-fn"),
                           (real_line(b"RuntimeError: one of the variables needed for gradient "
                                      b"computation has been modified by an inplace operation: "
                                      b"[torch"), "inplace-modified-saved"),
                           (real_line(b"RuntimeError: Trying to backward"), "backward-twice")]:
        started = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            report = explain(HEADER + b"\n" + frame + message + b"\n", entries)
            check_report(report)
        assert time.perf_counter() - started < 10
        assert primary_id(report) == entry
        assert not caught, [str(w.message) for w in caught]


@pytest.mark.slow
def test_user_file_of_blank_lines_is_searched_fast(tmp_path: Path,
                                                   entries: tuple[Entry, ...]) -> None:
    path = tmp_path / "train.py"
    path.write_bytes(b"\n" * 10_000 + b"opt = torch.optim.SGD(params)\n")
    log = (HEADER + b'\n  File "%s", line 10001, in <module>\n' % str(path).encode()
           + b"ValueError: optimizer got an empty parameter list\n")  # torch.optim's words
    started = time.perf_counter()
    report = explain(log, entries)
    check_report(report)  # the causes are ranked, reading the file, while rendering
    assert primary_id(report) == "optimizer-empty-params"
    assert time.perf_counter() - started < 1


# ---- the CLI -----------------------------------------------------------------------------

def cli_env() -> dict[str, str]:
    env = child_env()
    env.pop("GRADEXPLAIN_KB", None)
    return env


def run_cli(args: list[str], stdin: bytes | Iterator[bytes] = b"",
            timeout: float = 120) -> tuple[int, str, str, int]:
    """Run `gradexplain ARGS`, feeding stdin from another thread (a big input must not
    deadlock on a full pipe); the status, stdout, stderr and the child's peak RSS in KiB."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen([GRADEXPLAIN, *args], stdin=subprocess.PIPE, stdout=out,
                                stderr=err, env=cli_env())
        feeder = threading.Thread(target=feed, args=(proc, stdin), daemon=True)
        feeder.start()
        deadline = time.monotonic() + timeout
        peak = 0
        while (waited := os.wait4(proc.pid, os.WNOHANG))[0] == 0:
            if time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"gradexplain {args} took over {timeout} s")
            peak = max(peak, high_water_kib(proc.pid))
            time.sleep(0.02)
        proc.returncode = os.waitstatus_to_exitcode(waited[1])
        feeder.join()
        out.seek(0)
        err.seek(0)
        return (proc.returncode, out.read().decode("utf-8", "replace"),
                err.read().decode("utf-8", "replace"), peak or waited[2].ru_maxrss)


def high_water_kib(pid: int) -> int:
    """A running process's peak resident memory (VmHWM), 0 where /proc cannot tell; its
    ru_maxrss at exit would include this pytest process's peak (Linux keeps it across
    fork and exec)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            return next((int(line.split()[1]) for line in status
                         if line.startswith("VmHWM:")), 0)
    except (OSError, ValueError):
        return 0


def feed(proc: subprocess.Popen[bytes], stdin: bytes | Iterator[bytes]) -> None:
    assert proc.stdin is not None
    try:
        for chunk in [stdin] if isinstance(stdin, bytes) else stdin:
            proc.stdin.write(chunk)
        proc.stdin.close()
    except BrokenPipeError:  # the CLI stops reading when it fails: that is its business
        pass


def check_cli_contract(status: int, stdout: str, stderr: str) -> None:
    """0 explained, 1 nothing explained (stderr quiet), 2 the tool's own error: exactly one
    line on stderr that starts with `gradexplain:`. Never a traceback of ours."""
    assert not OWN_TRACEBACK_RE.search(stderr), stderr
    assert status in (0, 1, 2), (status, stderr)
    if status == 2:
        assert len(stderr.splitlines()) == 1 and stderr.startswith("gradexplain:"), stderr
    else:
        assert stderr == "", stderr
        assert stdout.strip()


def chained() -> bytes:
    return CHAINED.read_bytes()


def utf16(text: bytes) -> bytes:
    return text.decode("utf-8").encode("utf-16")  # with its byte-order mark, as PowerShell


CLI_STDIN_CASES = {
    "chained": (chained, {0}),
    "empty": (lambda: b"", {1}),
    "random-bytes": (lambda: random.Random(7).randbytes(65536), {1}),
    "nul-megabyte": (lambda: b"\x00" * (1 << 20), {1}),
    "cr-storm-around-traceback": (lambda: b"\r" * (1 << 20) + b"\n" + chained() + b"\r" * 99, {0}),
    "invalid-utf8-in-traceback": (lambda: chained().replace(b"spp", b"s\xff\xfe\xc3p"), {0}),
    "ansi-coloured": (lambda: b"\x1b[31m" + chained().replace(b"\n", b"\x1b[0m\n\x1b[2K"), {0}),
    "utf16-log": (lambda: utf16(chained()), {0}),
    "utf16-bom-then-garbage": (lambda: b"\xff\xfe" + random.Random(3).randbytes(4096), {0, 1}),
    "cut-mid-message": (lambda: chained()[:chained().index(b"scalars")], {0, 1}),
    "deep-chain": (lambda: (b"\n" + DURING + b"\n\n").join([chained()] * 300), {0}),
    "100k-frames": (lambda: b"".join(traceback_with_frames(100_000)), {0}),
    "only-newlines": (lambda: b"\n" * (1 << 20), {1}),
}


@pytest.mark.parametrize("case", CLI_STDIN_CASES)
def test_cli_explain_stdin(case: str) -> None:
    make, statuses = CLI_STDIN_CASES[case]
    status, stdout, stderr, _ = run_cli(["explain", "-"], make())
    check_cli_contract(status, stdout, stderr)
    assert status in statuses, (status, stdout[:300])


@settings(QUICK, max_examples=6)
@given(data=hostile_bytes)
def test_cli_json_on_generated_input(data: bytes) -> None:
    status, stdout, stderr, _ = run_cli(["explain", "--format", "json", "-"], data)
    check_cli_contract(status, stdout, stderr)
    assert (json.loads(stdout)["primary"] is not None) == (status == 0)


def file_cases(folder: Path) -> dict[str, tuple[Path, set[int]]]:
    (folder / "log.txt").write_bytes(chained())
    (folder / "log.gz").write_bytes(gzip.compress(chained()))
    (folder / "truncated.gz").write_bytes(gzip.compress(chained())[:40])
    (folder / "empty.txt").write_bytes(b"")
    (folder / "binary.bin").write_bytes(random.Random(11).randbytes(200_000))
    (folder / "sub").mkdir()
    return {"log": (folder / "log.txt", {0}), "gzip": (folder / "log.gz", {0}),
            "truncated-gzip": (folder / "truncated.gz", {2}),
            "empty": (folder / "empty.txt", {1}), "binary": (folder / "binary.bin", {0, 1}),
            "directory": (folder / "sub", {2}), "missing": (folder / "missing.txt", {2})}


@pytest.mark.parametrize("case", ["log", "gzip", "truncated-gzip", "empty", "binary",
                                  "directory", "missing"])
def test_cli_explain_file(case: str, tmp_path: Path) -> None:
    path, statuses = file_cases(tmp_path)[case]
    status, stdout, stderr, _ = run_cli(["explain", str(path)])
    check_cli_contract(status, stdout, stderr)
    assert status in statuses, (status, stderr)


def test_cli_user_file_with_syntax_warnings_keeps_stderr_quiet(tmp_path: Path) -> None:
    """Python warns about the user's code when it is parsed (`1if`, `"\\d"`): not our
    business, and stderr must stay ours."""
    source = tmp_path / "train.py"
    source.write_bytes(HOSTILE_SOURCES["syntax-warnings"] + FAILING_LOOP)
    (tmp_path / "log.txt").write_bytes(
        HEADER + b'\n  File "%s", line 6, in <module>\n    loss.backward()\n%s\n'
        % (str(source).encode(), NONSCALAR))
    status, stdout, stderr, _ = run_cli(["explain", str(tmp_path / "log.txt")])
    check_cli_contract(status, stdout, stderr)
    assert status == 0 and "loss.backward()" in stdout


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_cli_full_disk_is_one_line(tmp_path: Path) -> None:
    """Output that cannot be written is the tool's own error: status 2, one line."""
    (tmp_path / "log.txt").write_bytes(chained())
    with open("/dev/full", "wb") as full:
        result = subprocess.run([GRADEXPLAIN, "explain", str(tmp_path / "log.txt")],
                                stdout=full, stderr=subprocess.PIPE, env=cli_env(), timeout=120)
    stderr = result.stderr.decode()
    assert result.returncode == 2 and stderr.startswith("gradexplain:"), stderr
    assert len(stderr.splitlines()) == 1, stderr


def test_cli_corrupt_gzip_is_unreadable_input(tmp_path: Path) -> None:
    path = tmp_path / "corrupt.gz"
    path.write_bytes(gzip.compress(chained())[:10] + b"garbage" * 8)
    status, stdout, stderr, _ = run_cli(["explain", str(path)])
    check_cli_contract(status, stdout, stderr)
    assert status == 2 and "cannot read" in stderr and "internal error" not in stderr, stderr


def test_cli_error_naming_a_path_with_a_newline_is_one_line(tmp_path: Path) -> None:
    status, stdout, stderr, _ = run_cli(["explain", str(tmp_path / "no\nsuch.txt")])
    check_cli_contract(status, stdout, stderr)


def test_cli_100_mb_single_line_on_stdin() -> None:
    status, stdout, stderr, peak_kib = run_cli(["explain", "-"], one_line_of_100_mb(),
                                               timeout=300)
    check_cli_contract(status, stdout, stderr)
    assert status == 1
    assert peak_kib < 200 * 1024, peak_kib


# ---- slow: the bulk runs (scripts/test and CI run them) ---------------------------------

@pytest.mark.slow
def test_100k_seeded_inputs(entries: tuple[Entry, ...]) -> None:
    """100,000 generated inputs through scan, re-chunked scan, explain and every renderer;
    the slowest single input must stay far from a hang."""
    rng = random.Random(1)
    slowest, count = 0.0, 0
    for _ in range(100_000):
        data = hostile_input(rng)
        started = time.perf_counter()
        check_everything(data, entries, rng)
        slowest = max(slowest, time.perf_counter() - started)
        count += 1
    assert count == 100_000
    assert slowest < 10, slowest


@pytest.mark.slow
@settings(QUICK, max_examples=5000)
@given(data=hostile_bytes)
def test_5000_hypothesis_inputs(data: bytes, entries: tuple[Entry, ...]) -> None:
    """More hypothesis examples than the default run: it finds and shrinks what the seeded
    bulk run may miss."""
    check_everything(data, entries, random.Random(len(data)))
