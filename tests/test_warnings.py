"""Warnings: read from logs, recorded by `run`, and used as evidence for the errors after them.

A few errors are only explained by a warning printed before them (checkpointing with no
input that requires grad; the `.grad` of a non-leaf tensor), and a few bugs show only as a
warning (a loss broadcasting its target).
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from conftest import GRADEXPLAIN, child_env

from gradexplain.explain import explain
from gradexplain.knowledge import KnowledgeBase
from gradexplain.matcher import match_traceback
from gradexplain.model import ExceptionInfo, Frame, Traceback
from gradexplain.parser import parse

NONLEAF = ("The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its "
           ".grad attribute won't be populated during autograd.backward().")
CHECKPOINT = "None of the inputs have requires_grad=True. Gradients will be None"
NO_GRAD_FN = "element 0 of tensors does not require grad and does not have a grad_fn"


def error(message: str, code: str, type_: str = "RuntimeError") -> Traceback:
    return Traceback(ExceptionInfo(type_, message), (Frame("train.py", 9, "<module>", code),))


def test_warning_lines_are_parsed_with_their_source_line() -> None:
    log = textwrap.dedent(f"""\
        epoch 1 loss 0.3
        /home/me/train.py:14: UserWarning: {NONLEAF}
          print(hidden.grad)
        None
        WARNING:py.warnings:/home/me/eval.py:3: FutureWarning: soon gone
        epoch 2 loss 0.2
        """)
    first, second = parse(log)
    assert first.is_warning and first.exception.type == "UserWarning"
    assert first.exception.message == NONLEAF
    assert first.frames == (Frame("/home/me/train.py", 14, None, "print(hidden.grad)"),)
    assert second.is_warning and second.exception.type == "FutureWarning"
    assert second.exception.message == "soon gone"
    assert second.frames[0].file == "/home/me/eval.py"


def test_warning_between_frames_stays_out_of_the_traceback() -> None:
    log = textwrap.dedent("""\
        Traceback (most recent call last):
          File "train.py", line 9, in <module>
        /usr/lib/python3/site-packages/x.py:3: UserWarning: noisy
            loss.backward()
        RuntimeError: boom
        """)
    (tb,) = parse(log)
    assert not tb.is_warning and tb.exception.message == "boom"


def test_generic_nonetype_error_needs_its_gate(kb: KnowledgeBase) -> None:
    crash = "'NoneType' object has no attribute 'zero_'"
    assert [m.entry.id for m in match_traceback(error(crash, "w.grad.zero_()", "AttributeError"),
                                                kb.entries)] == ["nonleaf-grad-access"]
    assert match_traceback(error(crash, "optimizer.zero_()", "AttributeError"), kb.entries) == ()


def test_a_warning_before_an_error_names_the_better_entry(kb: KnowledgeBase) -> None:
    plain = [m.entry.id for m in match_traceback(error(NO_GRAD_FN, "loss.backward()"),
                                                 kb.entries)]
    warned = [m.entry.id for m in match_traceback(error(NO_GRAD_FN, "loss.backward()"),
                                                  kb.entries, (CHECKPOINT,))]
    assert plain == ["no-grad-fn"]
    assert warned == ["checkpoint-no-grad"]


def test_an_explained_error_wins_over_an_explained_warning(kb: KnowledgeBase) -> None:
    log = textwrap.dedent(f"""\
        /home/me/train.py:14: UserWarning: {NONLEAF}
          print(hidden.grad)
        Traceback (most recent call last):
          File "/home/me/train.py", line 20, in <module>
            loss.backward()
        RuntimeError: grad can be implicitly created only for scalar outputs
        """)
    report = explain(log, kb.entries, read_source=False)
    assert report.primary == 1
    assert [m.entry.id for m in report.analyses[0].matches] == ["nonleaf-grad-access"]


def test_unknown_warnings_alone_are_not_an_error(kb: KnowledgeBase) -> None:
    report = explain("/x/y.py:1: DeprecationWarning: old api\n  call()\n", kb.entries)
    assert report.primary is None
    assert report.analyses[0].traceback.is_warning


def run_script(tmp_path: Path, source: str, *options: str) -> tuple[int, str]:
    import subprocess

    script = tmp_path / "fit.py"
    script.write_text(textwrap.dedent(source), encoding="utf-8")
    done = subprocess.run([GRADEXPLAIN, "run", *options, str(script)], capture_output=True,
                          text=True, cwd=tmp_path, env=child_env(), timeout=300)
    return done.returncode, done.stderr


BROADCAST = """\
    import torch
    from torch import nn

    model = nn.Linear(3, 1)
    criterion = nn.MSELoss()
    x, y = torch.randn(8, 3), torch.randn(8)
    loss = criterion(model(x), y)
    loss.backward()
    print("done")
    """


def test_run_explains_a_silent_bug_after_success_at_the_users_line(tmp_path: Path) -> None:
    """nn.MSELoss warns from torch's loss.py; run names the user's line that called it."""
    status, stderr = run_script(tmp_path, BROADCAST)
    assert status == 0
    assert "the run succeeded, but one of its warnings is a known problem" in stderr
    assert "loss-size-broadcast" in stderr
    assert "fit.py:7" in stderr
    assert "criterion(model(x).squeeze(-1), y)" in stderr


def test_run_json_after_success(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    status, _ = run_script(tmp_path, BROADCAST, "--format", "json", "--json-out", str(out))
    data = json.loads(out.read_text(encoding="utf-8"))
    assert status == 0
    assert data["primary"]["id"] == "loss-size-broadcast"
    assert data["primary"]["user_frame"]["line"] == 7
    assert data["tracebacks"][0]["kind"] == "warning"


def test_run_stays_quiet_about_unknown_warnings(tmp_path: Path) -> None:
    status, stderr = run_script(tmp_path, """\
        import warnings
        warnings.warn("something else", UserWarning)
        """)
    assert status == 0
    assert "gradexplain" not in stderr
    assert "UserWarning: something else" in stderr
