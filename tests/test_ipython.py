"""`%load_ext gradexplain` in a real IPython shell: the explanation follows the cell's
traceback, which stays exactly as IPython prints it without the extension; unknown errors
and successful cells get nothing extra; `%gradexplain` explains the last error on demand.
The last test runs a notebook through a real Jupyter kernel (nbclient)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

import gradexplain.api
from gradexplain.ipython import NO_ERROR, unload

NONSCALAR_CELL = """\
import torch
x = torch.ones(2, requires_grad=True)
y = x * 2
y.backward()
"""
HEADING = "nonscalar-backward: backward() called on a tensor that is not a single number"
FACT = "`y` is a float32 tensor of shape (2,) with 2 elements on cpu, requires grad"
MESSAGE = "RuntimeError: grad can be implicitly created only for scalar outputs"


@pytest.fixture
def shell(monkeypatch: pytest.MonkeyPatch) -> Iterator[InteractiveShell]:
    """The real IPython shell, without the extension, printing tracebacks without colour."""
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("GRADEXPLAIN", raising=False)
    ipython = InteractiveShell.instance()
    colors = ipython.colors
    ipython.colors = "nocolor"
    forget_extension(ipython)
    yield ipython
    forget_extension(ipython)
    ipython.colors = colors


def forget_extension(ipython: InteractiveShell) -> None:
    unload(ipython)
    ipython.extension_manager.loaded.discard("gradexplain")


def load(ipython: InteractiveShell) -> None:
    ipython.run_line_magic("load_ext", "gradexplain")


def run(ipython: InteractiveShell, code: str) -> tuple[Any, str]:
    """Run one cell as a user would; everything it printed (stdout, then stderr).
    `store_history=False` keeps the cell's name (`Cell In[1]`) the same for each run, so
    the same failing cell prints the same traceback."""
    with capture_output() as captured:
        result = ipython.run_cell(code, store_history=False)
    return result, captured.stdout + captured.stderr


def test_known_error_is_explained_after_the_unchanged_traceback(shell: InteractiveShell) -> None:
    _, plain = run(shell, NONSCALAR_CELL)
    load(shell)
    result, output = run(shell, NONSCALAR_CELL)

    assert MESSAGE in plain and "----> 4 y.backward()" in plain
    assert output.startswith(plain), "the traceback must stay as IPython prints it"
    explanation = output[len(plain):]
    assert explanation.lstrip().startswith(HEADING)
    assert "y.sum().backward()" in explanation  # the fix, tailored to the cell's line
    assert FACT in explanation  # live facts: read from the cell's frame while it was alive
    assert sys.last_value is result.error_in_exec  # the hook left IPython's state alone


@pytest.mark.parametrize("code", ["1/0", "torch.ones(2) @ torch.ones(3)", "print('unclosed'"],
                         ids=["zero-division", "forward-shape-error", "syntax-error"])
def test_errors_the_knowledge_base_does_not_know_get_only_the_traceback(
        shell: InteractiveShell, code: str) -> None:
    run(shell, "import torch")
    _, plain = run(shell, code)
    load(shell)
    result, output = run(shell, code)

    assert not result.success and "Error" in plain
    assert output == plain


def test_a_cell_that_succeeds_prints_nothing_extra(shell: InteractiveShell) -> None:
    load(shell)
    _, output = run(shell, "import torch\nz = torch.ones(2, requires_grad=True)\n"
                           "z.sum().backward()\nprint(z.grad.tolist())")
    assert output == "[1.0, 1.0]\n"


def test_magic_explains_the_last_error_as_it_was_when_it_failed(shell: InteractiveShell) -> None:
    load(shell)
    run(shell, NONSCALAR_CELL)
    run(shell, "y = torch.zeros(3)")  # a later cell changes the tensor the error was about

    _, text = run(shell, "%gradexplain")
    _, markdown = run(shell, "%gradexplain --format markdown")
    _, raw = run(shell, "%gradexplain --format=json")

    assert text.lstrip().startswith(HEADING) and FACT in text
    assert markdown.startswith(f"# {HEADING}\n") and "```diff\n- y.backward()" in markdown
    data = json.loads(raw)
    assert data["primary"]["id"] == "nonscalar-backward"
    assert data["tracebacks"][-1]["facts"]["tensors"]["y"]["shape"] == [2]


def test_magic_explains_an_error_raised_before_the_extension_was_loaded(
        shell: InteractiveShell) -> None:
    run(shell, NONSCALAR_CELL)
    load(shell)
    _, output = run(shell, "%gradexplain")
    assert output.lstrip().startswith(HEADING) and FACT in output


def test_magic_says_so_for_an_error_it_does_not_know(shell: InteractiveShell) -> None:
    load(shell)
    run(shell, "1/0")
    _, output = run(shell, "%gradexplain")
    assert "Not an autograd error gradexplain knows" in output
    assert "ZeroDivisionError: division by zero" in output


def test_magic_without_any_error(shell: InteractiveShell, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("last_exc", "last_value", "last_type", "last_traceback"):
        monkeypatch.delattr(sys, name, raising=False)
    load(shell)
    _, output = run(shell, "%gradexplain")
    assert output == NO_ERROR + "\n"


def test_magic_usage_error_is_one_line(shell: InteractiveShell) -> None:
    load(shell)
    _, output = run(shell, "%gradexplain --format yaml")
    assert output == ("UsageError: %gradexplain [--format text|markdown|json], "
                      "not: %gradexplain --format yaml\n")


def test_gradexplain_0_turns_the_cell_hook_off_but_not_the_magic(
        shell: InteractiveShell, monkeypatch: pytest.MonkeyPatch) -> None:
    _, plain = run(shell, NONSCALAR_CELL)
    load(shell)
    monkeypatch.setenv("GRADEXPLAIN", "0")
    _, output = run(shell, NONSCALAR_CELL)
    _, asked = run(shell, "%gradexplain")
    assert output == plain
    assert asked.lstrip().startswith(HEADING)


def test_a_failing_explanation_falls_back_to_nothing(
        shell: InteractiveShell, monkeypatch: pytest.MonkeyPatch) -> None:
    """An internal failure (simulated: no real input is known to break the pipeline) must
    not reach IPython, which would print "Error in callback" and a second traceback."""
    def broken(error: BaseException, kb_dirs: tuple[str, ...] = ()) -> None:
        raise RuntimeError("gradexplain itself failed")

    _, plain = run(shell, NONSCALAR_CELL)
    load(shell)
    monkeypatch.setattr(gradexplain.api, "report_for_exception", broken)
    result, output = run(shell, NONSCALAR_CELL)
    assert output == plain
    assert sys.last_value is result.error_in_exec


def test_loading_twice_explains_once_and_unloading_removes_everything(
        shell: InteractiveShell) -> None:
    _, plain = run(shell, NONSCALAR_CELL)
    load(shell)
    shell.run_line_magic("reload_ext", "gradexplain")
    _, output = run(shell, NONSCALAR_CELL)
    assert output.count(HEADING) == 1

    unload(shell)
    _, after = run(shell, NONSCALAR_CELL)
    _, magic = run(shell, "%gradexplain")
    assert after == plain
    assert "Line magic function `%gradexplain` not found" in magic


@pytest.mark.slow
def test_notebook_error_cell_shows_the_explanation(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A real notebook run by a real kernel: the explanation is a display output after the
    error output, as Markdown with a plain-text fallback."""
    reason = "nbclient, nbformat and ipykernel run a notebook: pip install nbclient ipykernel"
    nbformat = pytest.importorskip("nbformat", reason=reason)
    nbclient = pytest.importorskip("nbclient", reason=reason)
    pytest.importorskip("ipykernel", reason=reason)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.delenv("GRADEXPLAIN", raising=False)
    cells = ["%load_ext gradexplain", NONSCALAR_CELL, "%gradexplain --format json", "1/0",
             "z = 1"]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    client = nbclient.NotebookClient(notebook, timeout=180, kernel_name="python3",
                                     allow_errors=True,
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    outputs = [cell.outputs for cell in notebook.cells]

    assert outputs[0] == []
    error, explanation = outputs[1]
    assert error.output_type == "error" and error.ename == "RuntimeError"
    assert explanation.output_type == "display_data"
    assert explanation.data["text/markdown"].startswith(f"# {HEADING}\n")
    assert FACT in explanation.data["text/markdown"]
    assert explanation.data["text/plain"].startswith(HEADING)
    assert json.loads(outputs[2][0].text)["primary"]["id"] == "nonscalar-backward"
    assert [(o.output_type, o.ename) for o in outputs[3]] == [("error", "ZeroDivisionError")]
    assert outputs[4] == []
