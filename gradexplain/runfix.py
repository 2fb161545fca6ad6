"""`gradexplain run`: run a script as python would; with --fix, repair a copy and re-run.

Without --fix this process becomes the script's process (exec), so output, stdin, exit
status and signals are exactly Python's, and the explanation is printed from inside it.
With --fix it stays as a parent: each run is a child with the same stdio; after a known
error it applies the best automatic fix to an in-memory copy, shows the diff, runs again
with the copy (the files on disk are untouched), and reports the gradients that flowed.
"""

from __future__ import annotations

import difflib
import io
import json
import os
import re
import signal
import stat
import subprocess
import sys
import tempfile
import tokenize
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gradexplain import app, bootstrap
from gradexplain.model import Report

FIX_MODES = ("safe", "unsafe")


@dataclass(frozen=True)
class RunOptions:
    module: bool = False
    fix: bool = False
    yes: bool = False
    write: bool = False
    force: bool = False
    unsafe_fixes: bool = False
    fix_id: str | None = None
    max_fixes: int = 3
    backup_suffix: str = ".bak"
    format: str = "text"
    json_out: str | None = None


@dataclass(frozen=True)
class ChildResult:
    status: int
    report: dict[str, Any]


@dataclass
class AppliedFix:
    entry_id: str
    fix_id: str
    file: str
    diff: str
    rerun_exit: int | None = None
    grads: dict[str, int] = field(default_factory=dict)


def run_command(target: list[str], options: RunOptions) -> int:
    if not target:
        raise app.UsageError("give the script to run (or -m MODULE), e.g. gradexplain run train.py")
    if options.format not in ("text", "json"):
        raise app.UsageError(f"--format {options.format!r}: use text or json")
    if options.format == "json" and not options.json_out:
        raise app.UsageError("--format json needs --json-out PATH (stdout is the script's)")
    if (options.write or options.force) and not options.fix:
        raise app.UsageError("--write and --force need --fix")
    argv = (["-m"] if options.module else []) + target
    if not options.module and not Path(target[0]).is_file():
        raise app.UsageError(f"{target[0]}: no such script")
    if not options.fix:
        become_script(argv, options)
    return FixSession(argv, options).run()


def bootstrap_command(argv: list[str]) -> list[str]:
    return [sys.executable, "-m", "gradexplain.bootstrap", *argv]


def become_script(argv: list[str], options: RunOptions) -> None:
    """Replace this process with the script's: nothing of ours stays in between."""
    env = dict(os.environ)
    env[bootstrap.EXPLAIN] = "1"
    if options.json_out:
        env[bootstrap.JSON_OUT] = str(Path(options.json_out).resolve())
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, bootstrap_command(argv), env)


def run_child(argv: list[str], patches: dict[str, str], track: bool,
              anomaly: bool = False) -> ChildResult:
    """One run of the script in a child with our stdio; Ctrl-C reaches the child, which
    ends as Python would, and we report its status."""
    with tempfile.TemporaryDirectory(prefix="gradexplain-") as folder:
        report_path = Path(folder) / "report.json"
        env = dict(os.environ)
        env[bootstrap.REPORT] = str(report_path)
        if patches:
            patch_path = Path(folder) / "patches.json"
            patch_path.write_text(json.dumps(patches), encoding="utf-8")
            env[bootstrap.PATCHES] = str(patch_path)
        if track:
            env[bootstrap.TRACK_GRADS] = "1"
        if anomaly:
            env[bootstrap.ANOMALY] = "1"
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            status = subprocess.call(bootstrap_command(argv), env=env)
        finally:
            signal.signal(signal.SIGINT, previous)
        try:
            report = json.loads(report_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            report = {}
    return ChildResult(128 - status if status < 0 else status, report)


class FixSession:
    def __init__(self, argv: list[str], options: RunOptions) -> None:
        self.argv = argv
        self.options = options
        self.patches: dict[str, str] = {}
        self.applied: list[AppliedFix] = []
        self.last_report: Report | None = None

    def run(self) -> int:
        result = run_child(self.argv, {}, track=False)
        for _ in range(self.options.max_fixes):
            if result.status == 0 or not self.fix_once(result):
                break
            result = run_child(self.argv, self.patches, track=True)
            self.applied[-1].rerun_exit = result.status
            self.applied[-1].grads = result.report.get("grads", {})
            say(rerun_summary(self.applied[-1]))
        self.finish(result)
        return result.status

    def fix_once(self, result: ChildResult) -> bool:
        """Explain the failure and apply one fix; False when there is nothing to do."""
        report = self.explain(result)
        if report is None:
            return False
        chosen = self.choose(report)
        if chosen is None:
            return False
        applied, new_source = chosen
        say(f"\ngradexplain: fix {applied.fix_id} for {applied.entry_id} in "
            f"{applied.file}:\n{applied.diff}")
        if not self.confirm():
            return False
        self.patches[applied.file] = new_source
        self.applied.append(applied)
        return True

    def explain(self, result: ChildResult) -> Report | None:
        from gradexplain.document import build_document
        from gradexplain.explain import explain
        from gradexplain.runreport import attach_facts

        text = result.report.get("traceback")
        if not text:
            return None
        kb = app.load_knowledge([], sys.stderr)
        report = attach_facts(explain(text, kb), result.report.get("facts") or {})
        self.last_report = report
        if report.primary is None:
            return None
        say("")
        app.emit(build_document(report), app.Output("text", "auto", None, sys.stderr))
        return report

    def choose(self, report: Report) -> tuple[AppliedFix, str] | None:
        """The best fix with a transformer the options allow, applied to the current copy."""
        from gradexplain import fixes
        from gradexplain.diagnose import auto_candidates, context_for, diagnose

        assert report.primary is not None
        analysis = report.analyses[report.primary]
        entry = analysis.matches[0].entry
        user = analysis.user_frame
        if user is None or user.frame.line is None:
            say("gradexplain: no automatic fix: the error is not in a file of yours")
            return None
        diagnosis = diagnose(entry, context_for(analysis))
        allowed = FIX_MODES if self.options.unsafe_fixes else FIX_MODES[:1]
        candidates = auto_candidates(diagnosis, self.options.fix_id)
        reasons = []
        for fix in candidates:
            assert fix.auto is not None
            if fix.auto.applicability not in allowed:
                reasons.append(f"{fix.id} is {fix.auto.applicability}: {fix.auto.safety}")
                continue
            file, line = user.frame.file, user.frame.line
            if dict(fix.auto.args).get("locate") == "anomaly":
                forward = self.forward_call()
                if forward is None:
                    reasons.append(f"{fix.id}: anomaly mode did not show the forward call")
                    continue
                file, line = forward
            path = str(Path(file).resolve())
            source = self.patches.get(path) or read_text(path)
            if source is None:
                reasons.append(f"cannot read {file}")
                continue
            tensors = analysis.facts.get("tensors", {})
            outcome = fixes.get(fix.auto.transformer)(fixes.FixRequest(
                source, line, dict(fix.auto.args), tensors))
            if outcome.source is None:
                reasons.append(f"{fix.id}: {outcome.reason}")
                continue
            return AppliedFix(entry.id, fix.id, path, unified_diff(path, source, outcome.source)
                              ), outcome.source
        top = diagnosis.causes[0].cause.id if diagnosis.causes else "none"
        why = "; ".join(reasons) or (
            f"{entry.id} has no automatic fix with id {self.options.fix_id!r}"
            if self.options.fix_id else
            f"{entry.id} has no automatic fix for the most likely cause ({top})")
        say(f"gradexplain: no automatic fix applied: {why}")
        return None

    def forward_call(self) -> tuple[str, int] | None:
        say("gradexplain: running once more with anomaly detection, to find the forward "
            "operation")
        return forward_call(self.argv, self.patches)

    def confirm(self) -> bool:
        """Ask before a re-run on a terminal; --yes, or no terminal to ask on, goes ahead
        (the files on disk are not touched by a re-run)."""
        if self.options.yes or not sys.stdin.isatty():
            return True
        try:
            answer = input("gradexplain: run again with this change? [y/N] ")
        except EOFError:
            return False
        return answer.strip().lower() in ("y", "yes")

    def finish(self, result: ChildResult) -> None:
        succeeded = result.status == 0
        if self.applied and self.options.write:
            if succeeded or self.options.force:
                for path, source in self.patches.items():
                    backup = write_with_backup(Path(path), source, self.options.backup_suffix)
                    say(f"gradexplain: wrote {path} (original kept as {backup})")
            else:
                say("gradexplain: not writing the change: the fixed run did not succeed "
                    "(--force writes it anyway)")
        elif self.applied and succeeded:
            say("gradexplain: your files are unchanged; --write applies the change")
        if self.options.json_out:
            self.write_json()

    def write_json(self) -> None:
        from gradexplain.render import report_dict

        data = report_dict(self.last_report) if self.last_report else {
            "schema": 1, "primary": None, "tracebacks": []}
        if self.applied:
            last = self.applied[-1]
            data["fix"] = {"id": last.fix_id, "entry": last.entry_id, "file": last.file,
                           "diff": last.diff, "applied": True, "rerun_exit": last.rerun_exit,
                           "grads": last.grads}
            data["fixes"] = [dict(vars(applied)) for applied in self.applied]
        Path(str(self.options.json_out)).write_text(json.dumps(data, indent=2) + "\n",
                                                    encoding="utf-8")


def forward_call(argv: list[str], patches: dict[str, str]) -> tuple[str, int] | None:
    """Run under anomaly detection: the user's line of the forward call whose saved tensor
    backward() found changed (for in-place errors, the change comes after that line)."""
    from gradexplain.anomaly import MARKER
    from gradexplain.frames import pick_user_frame, user_flags
    from gradexplain.parser import parse

    result = run_child(argv, patches, track=False, anomaly=True)
    for trace in result.report.get("forward_traces", []):
        frames_text = trace.split(MARKER, 1)[1].split(" (Triggered internally", 1)[0]
        tracebacks = parse("Traceback (most recent call last):\n" + frames_text
                           + "\nRuntimeError: forward call\n")
        frames = tracebacks[0].frames if tracebacks else ()
        user = pick_user_frame(frames, user_flags(frames), read_source=False)
        if user is not None and user.frame.line is not None:
            return user.frame.file, user.frame.line
    return None


def rerun_summary(applied: AppliedFix) -> str:
    grads = applied.grads
    if applied.rerun_exit != 0:
        return f"gradexplain: the fixed run failed too (exit status {applied.rerun_exit})"
    if not grads:
        return "gradexplain: the fixed run succeeded"
    return (f"gradexplain: the fixed run succeeded: {grads['backward_calls']} backward "
            f"call(s) completed; {grads['with_grad']} of {grads['leaf_tensors']} leaf tensors "
            f"that require grad received a gradient, {grads['finite_grad']} of them finite")


NO_NEWLINE = "\\ No newline at end of file"  # as diff and git mark a last line without one


def unified_diff(path: str, old: str, new: str) -> str:
    """A diff `patch -p1` applies from the current folder (absolute names outside it)."""
    relative = os.path.relpath(path)
    before, after = (path, path) if relative.startswith("..") else (f"a/{relative}",
                                                                      f"b/{relative}")
    lines = difflib.unified_diff(old.splitlines(True), new.splitlines(True), before, after)
    return "".join(line if line.endswith(("\n", "\r")) else f"{line}\n{NO_NEWLINE}\n"
                   for line in lines)


def read_text(path: str) -> str | None:
    """The script's text as Python reads it: decoded per PEP 263 (coding cookie, UTF-8 BOM)
    with universal newlines; None where Python could not read it either."""
    try:
        text, _ = decode_source(Path(path).read_bytes())
    except (OSError, SyntaxError, UnicodeDecodeError):  # SyntaxError: a bad coding cookie
        return None
    return universal_newlines(text)


def decode_source(data: bytes) -> tuple[str, str]:
    """The text with its line endings untouched, and the encoding to write it back in
    ('utf-8-sig' where there is a BOM, so that encoding keeps it)."""
    encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    return data.decode(encoding), encoding


def universal_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


class WriteError(app.UsageError):
    """A fix that was not written; the user's file is as it was. One line, not a traceback:
    the cause is their file or file system (permissions, encoding), which they can correct."""


def write_with_backup(path: Path, source: str, suffix: str) -> Path:
    """Keep a copy of the original as TARGET+suffix (TARGET+suffix.N if that exists), then
    replace TARGET's content, where TARGET is PATH with symlinks resolved (a link keeps
    pointing to the changed file). Each step writes a complete, synced file under a
    temporary name in the same folder and only then names it, so a kill at any moment
    leaves the original or the whole new file, and no partial backup."""
    target = path.resolve()
    try:
        original = target.read_bytes()
        mode = stat.S_IMODE(target.stat().st_mode)
        data = encode_like(target, source, original)
        backup = keep_backup(target, original, mode, suffix)
        replace_content(target, data, mode)
    except OSError as error:
        raise WriteError(f"{target}: not written ({error.strerror or error}); "
                         "the file is unchanged") from error
    return backup


def encode_like(target: Path, source: str, original: bytes) -> bytes:
    """SOURCE in the original's encoding and line endings. Refused when the result would not
    read back as SOURCE (a character the encoding lacks, a changed coding cookie): a file
    Python cannot read is worse than an unapplied fix."""
    try:
        text, encoding = decode_source(original)
        data = with_line_endings(source, text).encode(encoding)
        if universal_newlines(decode_source(data)[0]) != universal_newlines(source):
            raise UnicodeError("its coding declaration does not match its text any more")
    except (SyntaxError, UnicodeError) as error:
        raise WriteError(f"{target}: not written: the fixed source cannot be saved in the "
                         f"file's encoding ({error}); the file is unchanged") from error
    return data


LINE_RE = re.compile(r"([^\r\n]*)(\r\n|\r|\n|)")


def split_lines(text: str) -> list[tuple[str, str]]:
    """(body, ending) pairs. Only CR LF, CR and LF end a line, as for Python's tokenizer
    (str.splitlines also splits at form feeds and U+2028, which can be inside a line)."""
    return [(match[1], match[2]) for match in LINE_RE.finditer(text) if match[0]]


def with_line_endings(source: str, original: str) -> str:
    """SOURCE with each line's ending taken from the line it matches or replaces in ORIGINAL,
    and new lines ending as most of ORIGINAL's do: a file with mixed endings changes only
    where the fix did. A last line without a newline keeps having none, as SOURCE has it."""
    old, new = split_lines(original), split_lines(source)
    counts = Counter(ending for _, ending in old if ending)
    usual = counts.most_common(1)[0][0] if counts else "\n"
    endings = [usual if ending else "" for _, ending in new]
    matcher = difflib.SequenceMatcher(None, [body for body, _ in old], [body for body, _ in new])
    for tag, old_start, old_end, new_start, new_end in matcher.get_opcodes():
        if tag in ("equal", "replace"):
            for before, after in zip(range(old_start, old_end), range(new_start, new_end),
                                     strict=False):  # a replaced block may grow or shrink
                if old[before][1] and endings[after]:
                    endings[after] = old[before][1]
    return "".join(body + ending for (body, _), ending in zip(new, endings, strict=True))


def keep_backup(target: Path, original: bytes, mode: int, suffix: str) -> Path:
    """Name a complete copy of the original with the first free backup name; an existing
    backup is never replaced (it may be the only copy of an earlier original)."""
    temporary = write_temporary(target, original, mode)
    number = 0
    backup = target.with_name(target.name + suffix)
    try:
        while not link_if_new(temporary, backup):
            number += 1
            backup = target.with_name(f"{target.name}{suffix}.{number}")
    finally:
        temporary.unlink(missing_ok=True)
    return backup


def link_if_new(temporary: Path, name: Path) -> bool:
    """Give TEMPORARY's file the name NAME too, or False when NAME exists. A hard link fails
    atomically on an existing name; where the file system has no hard links, a rename after
    a check (a race only with another writer picking the same backup name at once)."""
    try:
        os.link(temporary, name)
    except FileExistsError:
        return False
    except OSError:
        if os.path.lexists(name):
            return False
        os.rename(temporary, name)
    return True


def replace_content(target: Path, data: bytes, mode: int) -> None:
    temporary = write_temporary(target, data, mode)
    try:
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    sync_folder(target.parent)


def write_temporary(target: Path, data: bytes, mode: int) -> Path:
    """DATA, synced to disk, in a new hidden file beside TARGET (the same file system, so
    that naming it is atomic), with TARGET's mode (the executable bit included)."""
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    temporary = Path(name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return temporary


def sync_folder(folder: Path) -> None:
    """Make the new name durable too; some file systems cannot sync a folder, and the
    content is already safe by then, so a failure here is not one of the write's."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)

