"""The knowledge cache saves explain's start-up time and is never wrong: an edited entry is
read again, a corrupt cache is ignored, and `GRADEXPLAIN_CACHE=0` turns it off. Its index
lets explain build only the entries that could match, and that pre-filter never loses a
match."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from conftest import CAPTURED, KNOWLEDGE, MINIMAL_ENTRY

from gradexplain import knowledge
from gradexplain.explain import explain
from gradexplain.kbcache import BODIES, FILE_NAME
from gradexplain.knowledge import EntryRef, KnowledgeBase
from gradexplain.model import Entry, Report


@pytest.fixture
def entries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "my-error.yaml").write_text(
        MINIMAL_ENTRY.format(id="my-error", pattern="first wording"), encoding="utf-8")
    monkeypatch.setenv("GRADEXPLAIN_CACHE", str(tmp_path / "cache"))
    return folder


def patterns(folder: Path) -> list[str]:
    entry = knowledge.load([folder]).get("my-error")
    assert entry is not None
    return [p.regex for p in entry.patterns]


def test_second_load_comes_from_the_cache(entries: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert patterns(entries) == ["first wording"]
    cache = json.loads((entries.parent / "cache" / FILE_NAME).read_text(encoding="utf-8"))
    assert list(cache["files"].values()) == [["my-error", ["RuntimeError"], ["first wording"]]]
    assert len(list((entries.parent / "cache" / BODIES).iterdir())) == 1

    def no_yaml(path: Path) -> object:
        raise AssertionError(f"{path} was parsed again")

    monkeypatch.setattr(knowledge, "read_yaml", no_yaml)
    assert patterns(entries) == ["first wording"]


def test_an_edited_entry_is_read_again(entries: Path) -> None:
    assert patterns(entries) == ["first wording"]
    path = entries / "my-error.yaml"
    path.write_text(MINIMAL_ENTRY.format(id="my-error", pattern="second wording"),
                    encoding="utf-8")
    os.utime(path, ns=(1, 1))  # a different time even on a coarse clock
    assert patterns(entries) == ["second wording"]


def test_an_edit_that_breaks_the_entry_is_reported(entries: Path) -> None:
    assert patterns(entries) == ["first wording"]
    path = entries / "my-error.yaml"
    path.write_text(MINIMAL_ENTRY.format(id="my-error", pattern="unclosed ("), encoding="utf-8")
    os.utime(path, ns=(2, 2))
    base = knowledge.load([entries])
    assert base.get("my-error") is None
    assert "invalid regex" in base.problems[0]


@pytest.mark.parametrize("content", ["", "{", '{"stamp": "old", "files": {}}', "[]"])
def test_a_corrupt_or_stale_cache_is_ignored(entries: Path, content: str) -> None:
    cache = entries.parent / "cache"
    cache.mkdir()
    (cache / FILE_NAME).write_text(content, encoding="utf-8")
    assert patterns(entries) == ["first wording"]


def test_cache_can_be_turned_off(entries: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRADEXPLAIN_CACHE", "0")
    assert patterns(entries) == ["first wording"]
    assert not (entries.parent / "cache").exists()


def test_unwritable_cache_folder_costs_nothing(entries: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = entries.parent / "not-a-folder"
    blocker.write_text("x", encoding="utf-8")
    monkeypatch.setenv("GRADEXPLAIN_CACHE", str(blocker / "cache"))
    assert patterns(entries) == ["first wording"]


@pytest.mark.parametrize("damage", ["{not json", '{"key": "another file", "data": {}}', None])
def test_a_lost_body_is_read_from_yaml_again_and_repaired(
        entries: Path, monkeypatch: pytest.MonkeyPatch, damage: str | None) -> None:
    assert patterns(entries) == ["first wording"]
    bodies = entries.parent / "cache" / BODIES
    for body in bodies.iterdir():
        if damage is None:
            body.unlink()
        else:
            body.write_text(damage, encoding="utf-8")
    if damage is None:
        bodies.rmdir()
    assert patterns(entries) == ["first wording"]

    def no_yaml(path: Path) -> object:
        raise AssertionError(f"{path} was parsed again")

    monkeypatch.setattr(knowledge, "read_yaml", no_yaml)
    assert patterns(entries) == ["first wording"]


def test_explain_builds_only_the_entries_that_could_match(monkeypatch: pytest.MonkeyPatch,
                                                          tmp_path: Path) -> None:
    monkeypatch.setenv("GRADEXPLAIN_CACHE", str(tmp_path / "cache"))
    knowledge.load([KNOWLEDGE])  # fills the cache
    base = knowledge.load([KNOWLEDGE])
    report = explain("RuntimeError: grad can be implicitly created only for scalar outputs",
                     base)
    assert report.primary is not None
    assert report.analyses[report.primary].matches[0].entry.id == "nonscalar-backward"
    built = [ref.id for ref in base.refs if ref.built is not None]
    assert "nonscalar-backward" in built and len(built) <= 3, built


def unfiltered(entries: tuple[Entry, ...]) -> KnowledgeBase:
    """The same entries with no literal to pre-filter on: every one is tried."""
    return KnowledgeBase([EntryRef.of(e, (None,) * len(e.patterns)) for e in entries])


def all_matches(report: Report) -> list[list[str]]:
    return [[m.entry.id for m in a.matches] for a in report.analyses]


def test_the_prefilter_never_drops_a_match(
        kb: KnowledgeBase, case_outputs: dict[Path, subprocess.CompletedProcess[str]]) -> None:
    """Every case's real output, every captured traceback and every entry's examples match
    the same entries with and without the literal pre-filter."""
    texts = [output.stderr for output in case_outputs.values()]
    texts += [path.read_text(encoding="utf-8", errors="replace")
              for path in sorted(CAPTURED.glob("*.txt"))]
    texts += [example for entry in kb.entries for example in entry.examples]
    everything = unfiltered(kb.entries)
    explained = 0
    for text in texts:
        filtered = explain(text, kb, read_source=False)
        assert all_matches(filtered) == all_matches(explain(text, everything,
                                                            read_source=False)), text[-300:]
        explained += filtered.primary is not None
    assert explained >= len(texts) * 0.9
    assert sum(literal is not None for ref in kb.refs for literal in ref.literals) > 100
