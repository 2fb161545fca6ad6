"""The knowledge cache saves explain's start-up time and is never wrong: an edited entry is
read again, a corrupt cache is ignored, and `GRADEXPLAIN_CACHE=0` turns it off."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import MINIMAL_ENTRY

from gradexplain import knowledge
from gradexplain.kbcache import FILE_NAME


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
    assert len(cache["entries"]) == 1

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


@pytest.mark.parametrize("content", ["", "{", '{"stamp": "old", "entries": {}}', "[]"])
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
