"""`run --write` never loses user code: the original stays readable as Python read it (its
encoding, BOM, line endings, mode, symlink), a backup is complete whenever it exists, and a
process killed at any point of the write leaves the old file or the whole new one."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import GRADEXPLAIN, child_env

from gradexplain.runfix import WriteError, read_text, write_with_backup

SEED_LINES = [
    "import torch",
    "",
    "x = torch.tensor([5.0, 5.0], requires_grad=True)",
    "y = torch.tensor([8.0, 8.0], requires_grad=True)",
    "A = x * y",
    "A.backward()",
]


def files_in(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


# -- encodings, line endings ---------------------------------------------------------------

LATIN1 = "# -*- coding: latin-1 -*-\ns = 'café'\n"

ROUND_TRIPS = [  # (original bytes, what the fix does to the text, expected bytes)
    pytest.param(LATIN1.encode("latin-1"), ("s =", "t ="),
                 "# -*- coding: latin-1 -*-\nt = 'café'\n".encode("latin-1"), id="latin-1"),
    pytest.param(b"\xef\xbb\xbfs = 'caf\xc3\xa9'\r\n", ("s =", "t ="),
                 b"\xef\xbb\xbft = 'caf\xc3\xa9'\r\n", id="utf-8 BOM, CRLF"),
    pytest.param(b"a = 1\r\nb = 2\nc = 3\r\n", ("b = 2", "b = 20\nb += 1"),
                 b"a = 1\r\nb = 20\nb += 1\r\nc = 3\r\n", id="mixed: only the fixed lines change"),
    pytest.param(b"a = 1\r\nb = 2", ("b = 2", "b = 3"), b"a = 1\r\nb = 3",
                 id="no final newline stays so"),
    pytest.param(b"a = 1\nb = 2", ("b = 2", "b = 2\nc = 3"), b"a = 1\nb = 2\nc = 3",
                 id="a line added after a last line without newline"),
    pytest.param(b"a = 1\rb = 2\r", ("b = 2", "b = 3"), b"a = 1\rb = 3\r", id="old Mac CR"),
    pytest.param(b"a = 1\r\n\x0cb = '\xe2\x80\xa8'\r\n", ("a = 1", "a = 2"),
                 b"a = 2\r\n\x0cb = '\xe2\x80\xa8'\r\n", id="form feed and U+2028 are not ends"),
]


@pytest.mark.parametrize(("original", "change", "expected"), ROUND_TRIPS)
def test_written_file_keeps_encoding_and_line_endings(
        tmp_path: Path, original: bytes, change: tuple[str, str], expected: bytes) -> None:
    path = tmp_path / "w.py"
    path.write_bytes(original)
    source = read_text(str(path))
    assert source is not None and "\r" not in source and "\ufeff" not in source
    backup = write_with_backup(path, source.replace(*change), ".bak")
    assert path.read_bytes() == expected
    assert backup.read_bytes() == original


def test_read_text_decodes_as_python_does(tmp_path: Path) -> None:
    path = tmp_path / "w.py"
    path.write_bytes(LATIN1.encode("latin-1"))
    assert read_text(str(path)) == LATIN1  # not a UnicodeDecodeError, not a replacement char
    path.write_bytes(b"# coding: no-such-codec\nx = 1\n")
    assert read_text(str(path)) is None
    path.write_bytes(b"s = '\xe9'\n")  # no cookie: UTF-8, which this is not; Python refuses too
    assert read_text(str(path)) is None


@pytest.mark.parametrize("fixed", [
    pytest.param("# -*- coding: latin-1 -*-\ns = '€'\n", id="a character latin-1 lacks"),
    pytest.param("# -*- coding: ascii -*-\ns = 'café'\n", id="a cookie the text breaks"),
])
def test_source_that_would_not_read_back_is_not_written(tmp_path: Path, fixed: str) -> None:
    path = tmp_path / "w.py"
    path.write_bytes(LATIN1.encode("latin-1"))
    with pytest.raises(WriteError, match="w.py: not written: .*encoding.*the file is unchanged"):
        write_with_backup(path, fixed, ".bak")
    assert path.read_bytes() == LATIN1.encode("latin-1")
    assert files_in(tmp_path) == ["w.py"]  # no backup, no temporary file


# -- mode, symlinks, backups ---------------------------------------------------------------

def test_mode_is_kept_for_the_file_and_its_backup(tmp_path: Path) -> None:
    path = tmp_path / "train.py"
    path.write_text("#!/usr/bin/env python\nx = 1\n")
    path.chmod(0o751)
    backup = write_with_backup(path, "#!/usr/bin/env python\nx = 2\n", ".bak")
    assert path.stat().st_mode & 0o7777 == 0o751
    assert backup.stat().st_mode & 0o7777 == 0o751


def test_writing_through_a_symlink_changes_the_target(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "train.py"
    target.write_text("x = 1\n")
    target.chmod(0o700)
    link = tmp_path / "train.py"
    link.symlink_to(Path("real") / "train.py")
    backup = write_with_backup(link, "x = 2\n", ".bak")
    assert link.is_symlink() and os.readlink(link) == str(Path("real") / "train.py")
    assert target.read_text() == "x = 2\n" and target.stat().st_mode & 0o777 == 0o700
    assert backup == target.with_name("train.py.bak") and backup.read_text() == "x = 1\n"
    assert files_in(tmp_path) == ["real", "train.py"]


def test_an_existing_backup_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "w.py"
    path.write_text("third\n")
    (tmp_path / "w.py.bak").write_text("first\n")
    (tmp_path / "w.py.bak.1").write_text("second\n")
    (tmp_path / "w.py.bak.2").symlink_to(tmp_path / "elsewhere")  # dangling: still taken
    backup = write_with_backup(path, "fourth\n", ".bak")
    assert backup.name == "w.py.bak.3" and backup.read_text() == "third\n"
    assert (tmp_path / "w.py.bak").read_text() == "first\n"
    assert (tmp_path / "w.py.bak.1").read_text() == "second\n"
    assert not (tmp_path / "elsewhere").exists()
    assert path.read_text() == "fourth\n"


def test_a_failed_sync_leaves_the_original_and_no_temporary(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "w.py"
    path.write_text("original\n")
    real_fsync, calls = os.fsync, []

    def disk_full_on_the_new_copy(fd: int) -> None:
        calls.append(fd)
        if len(calls) == 2:  # the first sync is the backup's
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", disk_full_on_the_new_copy)
    with pytest.raises(WriteError, match=r"w.py: not written \(No space left on device\); "
                                         "the file is unchanged"):
        write_with_backup(path, "changed\n", ".bak")
    assert path.read_text() == "original\n"
    assert files_in(tmp_path) == ["w.py", "w.py.bak"]
    assert (tmp_path / "w.py.bak").read_text() == "original\n"


def can_create_in(folder: Path) -> bool:
    probe = folder / "probe"
    try:
        probe.touch()
    except OSError:
        return False
    probe.unlink()
    return True


@pytest.fixture
def unwritable_folder(tmp_path: Path) -> Iterator[Path]:
    """A folder where no file can be created: by permissions, or for root (who ignores
    them) by the immutable attribute where the file system and capabilities allow it."""
    folder = tmp_path / "locked"
    folder.mkdir()
    (folder / "seed.py").write_text("\n".join(SEED_LINES) + "\n")
    folder.chmod(0o555)
    immutable = can_create_in(folder) and subprocess.run(
        ["chattr", "+i", str(folder)], capture_output=True, check=False).returncode == 0
    try:
        if can_create_in(folder):
            pytest.skip("cannot make a folder unwritable here")
        yield folder
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
        folder.chmod(0o755)


def test_an_unwritable_folder_is_a_clear_error(unwritable_folder: Path) -> None:
    path = unwritable_folder / "seed.py"
    before = path.read_bytes()
    with pytest.raises(WriteError, match=r"seed.py: not written \((Permission denied|"
                                         r"Operation not permitted)\); the file is unchanged"):
        write_with_backup(path, "changed\n", ".bak")
    assert path.read_bytes() == before and files_in(unwritable_folder) == ["seed.py"]


# -- killed in the middle ------------------------------------------------------------------

PAUSING_WRITER = """\
import os, resource, signal, sys, time
from pathlib import Path
from gradexplain.runfix import write_with_backup

path, new_file, call, nth, limit = sys.argv[1:]
real = getattr(os, call, None)
count = 0

def pausing(*args):
    global count
    result = real(*args)
    count += 1
    if count == int(nth):
        print("paused", flush=True)
        time.sleep(300)
    return result

if real is not None:
    setattr(os, call, pausing)
if int(limit):  # files may grow to LIMIT bytes; beyond, the kernel kills the process
    signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
    resource.setrlimit(resource.RLIMIT_FSIZE, (int(limit), resource.RLIM_INFINITY))
write_with_backup(Path(path), Path(new_file).read_text(), ".bak")
print("done", flush=True)
"""

SMALL = ("\n".join(SEED_LINES) + "\n").replace("\n", "\r\n").encode()
BIG = b"x = 1\r\n" * 400_000  # 2.8 MB: a kill can land in the middle of writing it
LIMIT = 1_000_000  # with SIGXFSZ's default action, the kernel kills a writer past this size


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and rlimits")
@pytest.mark.parametrize(("call", "nth", "big", "backed_up", "renamed"), [
    pytest.param("fsync", 1, "new", False, False, id="backup copy synced, not yet named"),
    pytest.param("link", 1, "new", True, False, id="backup named"),
    pytest.param("fsync", 2, "new", True, False, id="new copy synced, not yet renamed"),
    pytest.param("replace", 1, "new", True, True, id="renamed"),
    pytest.param("-", 0, "original", False, False, id="killed while copying a big original"),
    pytest.param("-", 0, "new", True, False, id="killed while writing a big fix"),
])
def test_a_kill_leaves_the_original_or_the_whole_new_file(
        tmp_path: Path, call: str, nth: int, big: str, backed_up: bool, renamed: bool) -> None:
    original, new = (BIG, SMALL) if big == "original" else (SMALL, BIG)
    folder = tmp_path / "project"
    folder.mkdir()
    path = folder / "train.py"
    path.write_bytes(original)
    path.chmod(0o754)
    new_file = tmp_path / "new.txt"
    new_file.write_bytes(new.replace(b"\r\n", b"\n"))
    limit = LIMIT if call == "-" else 0
    writer = subprocess.Popen(
        [sys.executable, "-c", PAUSING_WRITER, str(path), str(new_file), call, str(nth),
         str(limit)], stdout=subprocess.PIPE, text=True, env=child_env())
    try:
        said = writer.stdout.readline() if writer.stdout else ""
        writer.kill()
    finally:
        status = writer.wait(timeout=60)
    assert said == ("" if limit else "paused\n")
    assert status == -(signal.SIGXFSZ if limit else signal.SIGKILL)  # it never finished
    assert path.read_bytes() == (new if renamed else original)
    assert path.stat().st_mode & 0o7777 == 0o754
    backups = [name for name in files_in(folder) if name.startswith("train.py.bak")]
    assert backups == (["train.py.bak"] if backed_up else [])
    assert all((folder / name).read_bytes() == original for name in backups)
    leftovers = set(files_in(folder)) - {"train.py", *backups}
    assert all(name.startswith(".train.py.") and name.endswith(".tmp") for name in leftovers)
    # the next write works and keeps the backup the killed one made
    backup = write_with_backup(path, "x = 2\n", ".bak")
    assert path.read_bytes() == b"x = 2\r\n"
    assert backup.name == ("train.py.bak.1" if backed_up else "train.py.bak")


# -- end to end ----------------------------------------------------------------------------

def run_fix_write(script: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([GRADEXPLAIN, "run", "--fix", "--yes", "--write", script.name],
                          capture_output=True, text=True, cwd=script.parent, env=child_env(),
                          timeout=300)


LATIN1_SEED = "\n".join(["# -*- coding: latin-1 -*-", "label = 'café'", *SEED_LINES,
                         "print(len(label), x.grad)"]) + "\n"
CRLF_SEED = "\r\n".join(["label = 'café'", *SEED_LINES, "print(len(label), x.grad)"])


@pytest.mark.parametrize("original", [
    pytest.param(LATIN1_SEED.encode("latin-1"), id="latin-1 cookie"),
    pytest.param(b"\xef\xbb\xbf" + CRLF_SEED.encode(), id="utf-8 BOM, CRLF, no final newline"),
])
def test_write_end_to_end_keeps_the_file_format(tmp_path: Path, original: bytes) -> None:
    script = tmp_path / "seed.py"
    script.write_bytes(original)
    result = run_fix_write(script)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "4 tensor([8., 8.])\n"  # 'café' decoded right in the fixed run
    assert script.read_bytes() == original.replace(b"A.backward()", b"A.sum().backward()")
    assert (tmp_path / "seed.py.bak").read_bytes() == original


def test_write_end_to_end_in_an_unwritable_folder(unwritable_folder: Path) -> None:
    script = unwritable_folder / "seed.py"
    before = script.read_bytes()
    result = run_fix_write(script)
    assert result.returncode == 2
    assert "fixed run succeeded" in result.stderr
    last = result.stderr.splitlines()[-1]
    assert last.startswith("gradexplain: error: ") and "seed.py: not written (" in last
    assert result.stderr.count("Traceback") == 1  # the script's own, from its first run
    assert script.read_bytes() == before
