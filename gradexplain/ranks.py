"""Multi-process logs: the same error from many ranks, and torchelastic's error files.

torchrun and SLURM jobs print one traceback per failing rank, interleaved and prefixed
(`[rank3]:`); the parser keeps one traceback per rank. Here identical errors are grouped
("ranks 0-7"), so the explanation is given once, for the first rank that failed, and the
JSON lists the ranks on each traceback. When torchrun's ChildFailedError summary names an
`error_file` that is readable here, the traceback recorded in it is read as well (it is
the root cause's full traceback, which the log may lack).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from gradexplain.frames import is_user_file
from gradexplain.model import Analysis, Traceback
from gradexplain.parser import parse

MAX_ERROR_FILE_BYTES = 4 * 1024 * 1024
RANK_DIR_RE = re.compile(r"[/\\](\d{1,6})[/\\]error\.json$")
NUMBER_RE = re.compile(r"\d+")


def elastic_tracebacks(error_files: Sequence[str], known: Sequence[Traceback]) -> list[Traceback]:
    """The tracebacks recorded in torchelastic error files, except those the log shows."""
    seen = {signature(tb) for tb in known}
    found = []
    for path in error_files:
        for tb in read_error_file(path):
            if signature(tb) not in seen:
                seen.add(signature(tb))
                found.append(tb)
    return found


def read_error_file(path: str) -> list[Traceback]:
    """`{"message": {"message": ..., "extraInfo": {"py_callstack": TRACEBACK}}}`; nothing
    for a file that is missing (another machine's), too big or not in that shape."""
    try:
        file = Path(path)
        if not file.is_file() or file.stat().st_size > MAX_ERROR_FILE_BYTES:
            return []
        import json

        data = json.loads(file.read_text(encoding="utf-8", errors="replace"))
        callstack = data["message"]["extraInfo"]["py_callstack"]
    except (OSError, ValueError, KeyError, TypeError):
        return []
    if not isinstance(callstack, str):
        return []
    rank = RANK_DIR_RE.search(path)
    stream = rank.group(1) if rank else None
    return [replace(tb, stream=tb.stream or stream) for tb in parse(callstack)]


def signature(tb: Traceback) -> tuple[object, ...]:
    """What makes two ranks' errors "the same": type, message with numbers blanked (ranks
    and devices differ: cuda:3), and the user's line it was raised from."""
    users = [f for f in tb.frames if is_user_file(f.file)]
    last = users[-1] if users else tb.frames[-1] if tb.frames else None
    where = (last.file, last.line) if last else None
    return (tb.exception.type, NUMBER_RE.sub("#", " ".join(tb.exception.message.split())),
            where, tb.is_warning)


def group_ranks(analyses: Sequence[Analysis]) -> list[Analysis]:
    """Give every traceback the ranks whose traceback has the same signature (a copy
    without a rank prefix, as torchrun's summary prints, gets them too)."""
    groups: dict[tuple[object, ...], list[str]] = {}
    for analysis in analyses:
        stream = analysis.traceback.stream
        ranks = groups.setdefault(signature(analysis.traceback), [])
        if stream is not None and stream not in ranks:
            ranks.append(stream)
    return [replace(a, ranks=tuple(sorted(groups[signature(a.traceback)], key=rank_order)))
            for a in analyses]


def first_of_group(analyses: Sequence[Analysis], chosen: int, root_rank: str | None) -> int:
    """The traceback of the first rank to fail, with the same error as `chosen`: the rank
    torchrun names as the root cause, else the first printed (later ranks often fail
    because the first one did). Only a traceback explained by the same entry will do: a
    copy with the same signature may lack the frames that the entry's match needed."""
    wanted = signature(analyses[chosen].traceback)
    entry = analyses[chosen].matches[0].entry.id
    same = [i for i, a in enumerate(analyses) if signature(a.traceback) == wanted
            and a.matches and a.matches[0].entry.id == entry]
    from_root = [i for i in same
                 if root_rank is not None and analyses[i].traceback.stream == root_rank]
    with_rank = [i for i in same if analyses[i].traceback.stream is not None]
    return (from_root or with_rank or same)[0]


def rank_order(stream: str) -> tuple[int, ...]:
    return tuple(int(n) for n in NUMBER_RE.findall(stream)) or (0,)


def describe_ranks(ranks: Sequence[str]) -> str:
    """"ranks 0-3, 6" for a sorted list of simple rank numbers; the list as is otherwise."""
    if not all(r.isdigit() for r in ranks):
        return "ranks " + ", ".join(ranks)
    numbers = [int(r) for r in ranks]
    spans: list[str] = []
    start = previous = numbers[0]
    for number in [*numbers[1:], None]:
        if number is not None and number == previous + 1:
            previous = number
            continue
        spans.append(str(start) if start == previous else f"{start}-{previous}")
        if number is not None:
            start = previous = number
    return ("rank " if len(numbers) == 1 else "ranks ") + ", ".join(spans)
