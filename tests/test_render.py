"""Golden output at a fixed width with no colour. Set GRADEXPLAIN_REGEN_GOLDEN=1 to
rewrite the golden files, then review the diff."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from conftest import CAPTURED, KNOWLEDGE, run_script

from gradexplain.document import build_document, entry_document, entry_table
from gradexplain.explain import explain
from gradexplain.knowledge import KnowledgeBase
from gradexplain.render import render_markdown, render_text

GOLDEN = Path(__file__).parent / "golden"
REGENERATE = os.environ.get("GRADEXPLAIN_REGEN_GOLDEN") == "1"


def portable(output: str) -> str:
    """Real output with the machine's paths replaced, so the golden files are stable."""
    output = re.sub(r'File "[^"]*/(knowledge/[^"]+)"', r'File "/home/user/project/\1"', output)
    return re.sub(r'File "[^"]*/site-packages/', 'File "/opt/venv/lib/python3.11/site-packages/',
                  output)


@pytest.fixture(scope="module")
def inputs() -> dict[str, str]:
    seed = portable(run_script(KNOWLEDGE / "backward" / "nonscalar-backward.case.py").stderr)
    loss = portable(run_script(
        KNOWLEDGE / "backward" / "nonscalar-backward.case-per-sample-loss.py").stderr)
    return {
        "seed": seed,
        "per-sample-loss": loss,
        "colab-inplace": (CAPTURED / "inplace-relu-colab-ipython7-frames-collapsed.txt"
                          ).read_text(),
        "not-autograd": (CAPTURED / "mat1-mat2-tail-fragment.txt").read_text(),
        "no-traceback": "epoch 1 loss 0.3\nepoch 2 loss 0.2\n" * 3000,
    }


def check_golden(name: str, actual: str) -> None:
    path = GOLDEN / name
    if REGENERATE:
        path.write_text(actual, encoding="utf-8")
    assert path.exists(), f"missing golden {path}; run with GRADEXPLAIN_REGEN_GOLDEN=1"
    assert actual == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", ["seed", "per-sample-loss", "colab-inplace", "not-autograd",
                                  "no-traceback"])
def test_text_golden(name: str, inputs: dict[str, str], kb: KnowledgeBase) -> None:
    report = explain(inputs[name], kb.entries, read_source=False)
    check_golden(f"{name}.txt", render_text(build_document(report), width=88))


def test_markdown_golden(inputs: dict[str, str], kb: KnowledgeBase) -> None:
    report = explain(inputs["seed"], kb.entries, read_source=False)
    check_golden("seed.md", render_markdown(build_document(report)))


def test_seed_explanation_content(inputs: dict[str, str], kb: KnowledgeBase) -> None:
    """The promise of the README: the seed's line, and both tailored fixes."""
    text = render_text(build_document(explain(inputs["seed"], kb.entries)), width=88)
    assert text.startswith("nonscalar-backward:")
    assert "nonscalar-backward.case.py:10, in <module>" in text
    assert "+ A.sum().backward()" in text
    assert "+ A.backward(gradient=torch.ones_like(A))" in text
    assert text.index("A.sum().backward()") < text.index("A.mean().backward()")


def test_per_sample_loss_prefers_mean(inputs: dict[str, str], kb: KnowledgeBase) -> None:
    text = render_text(build_document(explain(inputs["per-sample-loss"], kb.entries)), 88)
    assert "+ _loss.mean().backward()" in text
    assert text.index("_loss.mean().backward()") < text.index("_loss.sum().backward()")


def test_lines_fit_the_width(inputs: dict[str, str], kb: KnowledgeBase) -> None:
    text = render_text(build_document(explain(inputs["per-sample-loss"], kb.entries)), 60)
    code = re.compile(r"^\s*\d+ \| ")  # the user's line, quoted verbatim
    prose = [line for line in text.splitlines()
             if not line.lstrip().startswith(("-", "+", "http")) and not code.match(line)]
    assert max(map(len, prose)) <= 60


def test_list_and_show_render(kb: KnowledgeBase) -> None:
    listing = render_text(entry_table(kb.entries))
    for entry in kb.entries:
        assert entry.id in listing
    shown = render_text(entry_document(kb.get("nonscalar-backward")))  # type: ignore[arg-type]
    assert "backward should be called only on a scalar" in shown  # the old pattern is listed
    assert "verified on torch: 2.13.0" in shown


def test_rich_output_goes_to_the_stream_it_is_given(capsys: pytest.CaptureFixture[str]) -> None:
    """`run` and the excepthook explain on stderr: colour must not send it to stdout."""
    import io

    from gradexplain import app
    from gradexplain.document import Document, Para, Section

    stream = io.StringIO()
    document = Document("nonscalar-backward: title", (Section("Why", (Para("because"),)),), True)
    app.emit(document, app.Output("text", "always", 80, stream))
    assert "because" in stream.getvalue() and "\x1b[" in stream.getvalue()
    assert capsys.readouterr().out == ""
