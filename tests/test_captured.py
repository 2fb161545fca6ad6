"""Real tracebacks: pasted in public issue threads (old torch versions, notebooks, Windows,
quoting; tests/data/captured) and produced here by tools whose output has its own shape
(torchrun, torch.compile, IPython modes, interleaved noise; tests/data/generated). Each
must parse, match its entry (or nothing, for non-autograd errors) and blame the right
line. Sources are listed in each folder's SOURCES.yaml."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import CAPTURED

from gradexplain.explain import explain
from gradexplain.knowledge import KnowledgeBase

FOLDERS = (CAPTURED, CAPTURED.parent / "generated")


def listed(folder: Path) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = yaml.safe_load(
        (folder / "SOURCES.yaml").read_text(encoding="utf-8"))
    return [{**item, "path": folder / item["file"]} for item in items]


FIXTURES = [item for folder in FOLDERS for item in listed(folder)]


@pytest.mark.parametrize("folder", FOLDERS, ids=[f.name for f in FOLDERS])
def test_every_fixture_is_listed(folder: Path) -> None:
    items = listed(folder)
    assert {item["file"] for item in items} == {p.name for p in folder.glob("*.txt")}
    assert all(item["source"] for item in items)


@pytest.mark.parametrize("item", FIXTURES, ids=[i["file"] for i in FIXTURES])
def test_captured_traceback(item: dict[str, Any], kb: KnowledgeBase) -> None:
    report = explain(item["path"].read_bytes(), kb.entries, read_source=False)
    assert report.analyses, "no traceback found"
    if item["expected_entry"] is None:
        assert report.primary is None, report.analyses[report.primary or 0].matches
        return
    assert report.primary is not None
    analysis = report.analyses[report.primary]
    assert [m.entry.id for m in analysis.matches] == [item["expected_entry"]]
    exception = analysis.traceback.exception
    assert exception.short_type == item["exception"].rsplit(".", 1)[-1]
    assert " ".join(exception.message.split()).startswith(" ".join(item["message_start"].split()))
    if item["user_line"] is None:
        assert analysis.user_frame is None or not analysis.traceback.frames
        return
    assert analysis.user_frame is not None
    name, line = item["user_line"].rsplit(":", 1)
    frame = analysis.user_frame.frame
    assert re.split(r"[/\\]", frame.file)[-1] == name
    assert frame.line == int(line)
