"""Property tests: no input, however broken, makes the parser or explain raise."""

from __future__ import annotations

import io

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gradexplain.app import Output, explain_command
from gradexplain.document import build_document
from gradexplain.explain import explain
from gradexplain.knowledge import KnowledgeBase, builtin_dir, load
from gradexplain.parser import parse
from gradexplain.render import render_json, render_markdown, render_text

KB: KnowledgeBase = load([builtin_dir()])
PIECES = [
    "Traceback (most recent call last):\n", '  File "train.py", line 3, in <module>\n',
    "    loss.backward()\n", "    ^^^^^^^^\n", "RuntimeError: grad can be implicitly created only "
    "for scalar outputs\n", "\n", "The above exception was the direct cause of the following "
    "exception:\n", "Original Traceback (most recent call last):\n", "[rank1]: ", "\r", "\x1b[31m",
    "RuntimeError                              Traceback (most recent call last)\n",
    "Cell In[3], line 5\n", "----> 5 x.backward()\n", "File ~/x.py:12, in f(a)\n", "```\n", "> ",
    "<ipython-input-1-abc> in <module>\n", "ValueError\n", "\x00", "\udcff", "1 frames\n",
]
traceback_like = st.lists(st.sampled_from(PIECES) | st.text(max_size=30), max_size=40).map("".join)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text() | traceback_like)
def test_text_never_raises(text: str) -> None:
    report = explain(text, KB.entries, read_source=False)
    document = build_document(report)
    render_text(document, 60)
    render_markdown(document)
    render_json(report)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=4096) | traceback_like.map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_bytes_never_raise(data: bytes) -> None:
    for tb in parse(data):
        assert isinstance(tb.exception.message, str)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=2048) | traceback_like.map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_explain_command_statuses(data: bytes) -> None:
    out, err = io.StringIO(), io.StringIO()
    status = explain_command("-", Output("text", "never", 80, out), [], io.BytesIO(data), err)
    assert status in (0, 1)
    assert err.getvalue() == ""
