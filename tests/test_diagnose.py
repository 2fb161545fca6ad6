"""Tailored fixes and cause ranking, as tables of user statements and expected advice."""

from __future__ import annotations

import pytest

from gradexplain.diagnose import Context, diagnose, tailor
from gradexplain.frames import without_comments
from gradexplain.knowledge import KnowledgeBase
from gradexplain.model import Entry

MEAN_FIX = [
    ("A.backward()", "A.mean().backward()"),
    ("_loss.backward(retain_graph=True)", "_loss.mean().backward(retain_graph=True)"),
    ("accelerator.backward(loss)", "accelerator.backward(loss.mean())"),
    ("model_engine.backward(loss)", "model_engine.backward(loss.mean())"),
    ("self.manual_backward(loss)", "self.manual_backward(loss.mean())"),
    ("torch.autograd.backward(loss, retain_graph=True)",
     "torch.autograd.backward(loss.mean(), retain_graph=True)"),
    ("scaler.scale(loss).backward()", "scaler.scale(loss.mean()).backward()"),
    ("losses[i].backward()", "losses[i].mean().backward()"),
    ("loss.backward(gradient)", None),  # a gradient is given: not ours to rewrite
    ("print(loss)", None),
]


def entry(kb: KnowledgeBase, entry_id: str) -> Entry:
    found = kb.get(entry_id)
    assert found is not None
    return found


@pytest.mark.parametrize(("code", "expected"), MEAN_FIX)
def test_reduce_mean_is_tailored_to_the_call(kb: KnowledgeBase, code: str,
                                             expected: str | None) -> None:
    fix = next(f for f in entry(kb, "nonscalar-backward").fixes if f.id == "reduce-mean")
    tailored = tailor(fix, code)
    assert (tailored.after if tailored.tailored else None) == expected


def test_evidence_ranks_per_sample_loss_first(kb: KnowledgeBase) -> None:
    source = "criterion = nn.CrossEntropyLoss(reduction='none')\nloss = criterion(out, y)\n"
    diagnosis = diagnose(entry(kb, "nonscalar-backward"),
                         Context("loss.backward()", source, "grad can be implicitly created "
                                 "only for scalar outputs", "train.py"))
    top = diagnosis.causes[0]
    assert top.cause.id == "per-sample-loss" and top.likely
    assert "`reduction='none'` at line 1 of train.py" in top.evidence
    assert diagnosis.fixes[0].fix.id == "reduce-mean"
    assert diagnosis.fixes[0].after == "loss.mean().backward()"


def test_gates_drop_causes_and_their_fixes(kb: KnowledgeBase) -> None:
    message = "grad can be implicitly created only for real scalar outputs but got torch.complex64"
    diagnosis = diagnose(entry(kb, "nonscalar-backward"), Context("z.backward()", None, message))
    assert [c.cause.id for c in diagnosis.causes] == ["complex-loss"]
    assert [f.fix.id for f in diagnosis.fixes] == ["take-real-part"]
    assert diagnosis.fixes[0].after == "z.real.backward()"


def test_comments_are_not_evidence() -> None:
    source = "x = 1  # reduction='none' was here\ny = '# not a comment'\n"
    assert without_comments(source) == "x = 1  \ny = '# not a comment'\n"


def test_anti_fixes_in_the_users_file_are_named(kb: KnowledgeBase) -> None:
    source = ("loss = model(x).sum()\nloss.requires_grad = True\n"
              "out.backward(retain_graph=True)\nval_loss.detach().backward()\n")
    diagnosis = diagnose(entry(kb, "no-grad-fn"),
                         Context("loss.backward()", source, "element 0 of tensors does not "
                                 "require grad and does not have a grad_fn", "train.py"))
    assert [w.split(":", 1)[0] for w in diagnosis.anti_fixes] == ["line 2", "line 3", "line 4"]
    assert "`loss.requires_grad = True`" in diagnosis.anti_fixes[0]
    assert "`val_loss.detach()`" in diagnosis.anti_fixes[2]
    clean = diagnose(entry(kb, "no-grad-fn"),
                     Context("loss.backward()", without_comments(
                         "loss = model(x).sum()\n# loss.requires_grad = True\n"),
                         "element 0 of tensors", "train.py"))
    assert clean.anti_fixes == ()
