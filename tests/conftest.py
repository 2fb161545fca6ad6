"""Shared fixtures: the knowledge base, and the real output of every case script.

Case scripts are run once per session, two at a time, in subprocesses under real torch.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gradexplain import knowledge
from gradexplain.model import Entry
from gradexplain.verify import expects_success

ROOT = Path(__file__).resolve().parent.parent
KNOWLEDGE = ROOT / "knowledge"
CAPTURED = ROOT / "tests" / "data" / "captured"
GRADEXPLAIN = str(Path(sys.executable).parent / "gradexplain")
EXPECT_RE = re.compile(r"#\s*expect:\s*([a-z0-9-]+)")
EXPECT_CAUSE_RE = re.compile(r"^#\s*expect-cause:\s*([a-z0-9-]+)\s*$", re.M)
CAUSE_MARK = "# <- cause"
EXPECT_FIX_RE = re.compile(r"^#\s*expect-fix:\s*(.+?)\s*$", re.M)


MINIMAL_ENTRY = """\
id: {id}
title: A test entry
exception: RuntimeError
patterns:
  - regex: '{pattern}'
summary: It failed.
why: Because.
causes:
  - id: only
    text: The only cause.
fixes:
  - id: fix-it
    title: Fix it.
    before: a
    after: b
"""


@dataclass(frozen=True)
class Case:
    path: Path
    entry_id: str
    line: int
    cause: str | None
    fixes: tuple[str, ...]
    succeeds: bool = False
    cause_lines: tuple[int, ...] = ()  # lines marked `# <- cause`: the top cause's evidence

    @property
    def name(self) -> str:
        return self.path.name


def case_files() -> list[Path]:
    return sorted(p for p in KNOWLEDGE.rglob("*.case*.py") if not p.name.endswith(".fixed.py"))


def fixed_golden(case: Path) -> Path:
    """The hand-checked result of the automatic fix on a case: `<case>.fixed.py`."""
    return case.with_name(case.stem + ".fixed.py")


def read_case(path: Path) -> Case:
    text = path.read_text(encoding="utf-8")
    marked = [(i, m.group(1)) for i, line in enumerate(text.splitlines(), start=1)
              if (m := EXPECT_RE.search(line))]
    assert len(marked) == 1, f"{path}: needs exactly one '# expect: <id>' line"
    line, entry_id = marked[0]
    cause = EXPECT_CAUSE_RE.search(text)
    cause_lines = tuple(i for i, text_line in enumerate(text.splitlines(), start=1)
                        if CAUSE_MARK in text_line)
    return Case(path, entry_id, line, cause.group(1) if cause else None,
                tuple(EXPECT_FIX_RE.findall(text)), expects_success(path), cause_lines)


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1", NO_COLOR="1",
               PYTHONWARNINGS="default")  # warnings explain some errors
    env.pop("FORCE_COLOR", None)
    return env


def run_script(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(path)], capture_output=True, text=True,
                          env=child_env(), cwd=path.parent, timeout=300)


@pytest.fixture(scope="session")
def kb() -> knowledge.KnowledgeBase:
    base = knowledge.load([KNOWLEDGE])
    assert not base.problems, base.problems
    return base


@pytest.fixture(scope="session")
def case_outputs() -> dict[Path, subprocess.CompletedProcess[str]]:
    """Every case script's real run, keyed by path."""
    paths = case_files()
    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(paths, pool.map(run_script, paths), strict=True))


HERE = "# <- here"  # the line a detector test's buggy snippet must be flagged on


def marked_line(source: str) -> int:
    """The one line of a snippet marked `# <- here`."""
    lines = [i for i, line in enumerate(source.splitlines(), 1) if HERE in line]
    assert len(lines) == 1, source
    return lines[0]


def matches_entry(message: str, entry: Entry) -> bool:
    """An error message an entry's patterns recognise (and its not_patterns allow)."""
    return any(re.search(p.regex, message) for p in entry.patterns) and not any(
        n in message for n in entry.not_patterns)


def run_in_torch(harness: str, job: Mapping[str, object]) -> dict[str, Any]:
    """One torch process for a detector test's snippets: `harness` reads the job as JSON on
    stdin and prints what each snippet did as JSON."""
    import json

    done = subprocess.run([sys.executable, "-c", harness], input=json.dumps(job),
                          capture_output=True, text=True, env=child_env(), timeout=300)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result

