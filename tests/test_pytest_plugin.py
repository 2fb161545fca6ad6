"""The pytest plugin, run for real: pytester starts a pytest process on a small test suite,
which loads the plugin through its `pytest11` entry point, as a user's pytest would."""

from __future__ import annotations

import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

pytest_plugins = ["pytester"]

SEP = re.compile(r"^-+ gradexplain -+$", re.M)
HEADER = re.compile(r"^_{3,} (.+?) _{3,}$")
SUMMARY = re.compile(r"^=+ .+ =+$")  # "=== short test summary info ===", not a title's underline
SUITE = """\
import pytest
import torch


@pytest.fixture
def trained():
    loss = torch.ones(3).sum()
    loss.backward()


def test_nonscalar():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = torch.tensor([3.0, 4.0])
    z = x * y
    z.backward()


def test_setup_error(trained):
    pass


def test_unknown_error():
    assert 1 == 2


def test_passes():
    assert torch.ones(1).item() == 1.0
"""
PASSING = """\
import torch


def test_one():
    assert torch.ones(1).item() == 1.0


def test_two():
    assert torch.zeros(2).sum().item() == 0.0
"""
# at the end of the run, which of the heavy modules the pytest process had imported
RECORD_MODULES = """\
import sys

def pytest_sessionfinish(session):
    heavy = ("torch", "rich", "gradexplain.api", "gradexplain.knowledge")
    with open("modules.txt", "w") as out:
        out.write(" ".join(m for m in heavy if m in sys.modules))
"""


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.delenv("GRADEXPLAIN", raising=False)
    monkeypatch.delenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", raising=False)


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args, timeout=300)


def blocks(result: pytest.RunResult) -> dict[str, str]:
    """Each failure's or error's report in the summary, by its header ("test_x",
    "ERROR at setup of test_y"), up to the next header or `=== ... ===` line."""
    found: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in result.outlines:
        header = HEADER.match(line)
        if header:
            current = found.setdefault(header.group(1), [])
        elif SUMMARY.match(line):
            current = None
        elif current is not None:
            current.append(line)
    return {name: "\n".join(lines) for name, lines in found.items()}


def section(block: str) -> str:
    """The text of the gradexplain section in one failure's report ("" when it has none)."""
    parts = SEP.split(block)
    assert len(parts) <= 2, block
    return parts[1] if len(parts) == 2 else ""


def test_flag_explains_known_errors_in_the_failure_report(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_suite=SUITE)
    result = run(pytester, "--gradexplain", "--junitxml=report.xml")
    result.assert_outcomes(passed=1, failed=2, errors=1)
    reports = blocks(result)

    nonscalar = section(reports["test_nonscalar"])
    assert nonscalar.lstrip().startswith("nonscalar-backward: backward() called on a tensor")
    # the test's own line (a long temporary path may be wrapped anywhere before the name)
    assert "test_suite.py:15, in test_nonscalar" in " ".join(nonscalar.split())
    assert "+ z.sum().backward()" in nonscalar  # the fix, tailored to that line
    assert "`z` is a float32 tensor of shape (2,)" in nonscalar  # live facts from the run
    assert reports["test_nonscalar"].index("RuntimeError: grad can be implicitly") < (
        reports["test_nonscalar"].index("nonscalar-backward"))  # after pytest's traceback

    assert section(reports["ERROR at setup of test_setup_error"]).lstrip().startswith(
        "no-grad-fn:")
    assert section(reports["test_unknown_error"]) == ""
    assert "assert 1 == 2" in reports["test_unknown_error"]

    failures = {case.get("name"): case.find("failure") for case in
                ET.parse(pytester.path / "report.xml").getroot().iter("testcase")}
    nonscalar_xml = failures["test_nonscalar"]
    unknown_xml = failures["test_unknown_error"]
    assert nonscalar_xml is not None and unknown_xml is not None
    assert "nonscalar-backward" in (nonscalar_xml.text or "")
    assert "+ z.sum().backward()" in (nonscalar_xml.text or "")
    assert "gradexplain" not in (unknown_xml.text or "")


def test_off_by_default(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_suite=SUITE)
    result = run(pytester)
    result.assert_outcomes(passed=1, failed=2, errors=1)
    assert "RuntimeError: grad can be implicitly created" in result.stdout.str()
    assert not SEP.search(result.stdout.str())
    assert "nonscalar-backward" not in result.stdout.str()


@pytest.mark.parametrize("config", [
    ("pytest.ini", "[pytest]\ngradexplain = true\n"),
    ("pyproject.toml", "[tool.pytest.ini_options]\ngradexplain = true\n"),
])
def test_ini_option_turns_it_on(pytester: pytest.Pytester, config: tuple[str, str]) -> None:
    name, text = config
    (pytester.path / name).write_text(text)
    pytester.makepyfile(test_suite=SUITE)
    result = run(pytester)
    result.assert_outcomes(passed=1, failed=2, errors=1)
    assert "+ z.sum().backward()" in section(blocks(result)["test_nonscalar"])


def test_bad_ini_value_warns_and_stays_off(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ngradexplain = maybe\n")
    pytester.makepyfile(test_suite=SUITE)
    result = run(pytester)
    result.assert_outcomes(passed=1, failed=2, errors=1, warnings=1)
    assert "gradexplain is off: ini option gradexplain: invalid truth value 'maybe'" in (
        result.stdout.str())
    assert not SEP.search(result.stdout.str())


def test_environment_variable_turns_it_off(pytester: pytest.Pytester,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRADEXPLAIN", "0")
    pytester.makepyfile(test_suite=SUITE)
    result = run(pytester, "--gradexplain")
    result.assert_outcomes(passed=1, failed=2, errors=1)
    assert "nonscalar-backward" not in result.stdout.str()


def test_unknown_error_gets_no_section_and_no_torch(pytester: pytest.Pytester) -> None:
    """Explaining `assert 1 == 2` reads the knowledge base but imports neither torch
    (the test never did) nor rich (the section is plain text)."""
    pytester.makeconftest(RECORD_MODULES)
    pytester.makepyfile(test_plain="def test_unknown():\n    assert 1 == 2\n")
    result = run(pytester, "--gradexplain")
    result.assert_outcomes(failed=1)
    assert section(blocks(result)["test_unknown"]) == ""
    assert not SEP.search(result.stdout.str())
    assert (pytester.path / "modules.txt").read_text().split() == [
        "gradexplain.api", "gradexplain.knowledge"]


def test_passing_suite_is_unaffected(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(RECORD_MODULES)
    pytester.makepyfile(test_passing=PASSING)
    timing = re.compile(r" in [\d.]+s\b.*$")
    outputs = []
    for args in ((), ("--gradexplain",)):
        result = run(pytester, *args)
        result.assert_outcomes(passed=2)
        assert result.ret == 0
        outputs.append([timing.sub("", line) for line in result.outlines])
        # nothing failed, so the plugin never loaded the API or the knowledge base
        assert (pytester.path / "modules.txt").read_text().split() == ["torch"]
    assert outputs[0] == outputs[1]


def test_item_with_its_own_failure_text_gets_the_section_too(pytester: pytest.Pytester) -> None:
    """A non-Python test item (a plugin's YAML or notebook test, say) may report its failure
    as a plain string, which has no sections: the explanation follows it instead."""
    pytester.makeconftest("""\
        import pytest
        import torch


        class TorchCase(pytest.Item):
            def runtest(self):
                out = torch.ones(2, requires_grad=True) * 2
                out.backward()

            def repr_failure(self, excinfo):
                return f"case failed: {excinfo.value}"

            def reportinfo(self):
                return self.path, 0, self.name


        class TorchCases(pytest.File):
            def collect(self):
                yield TorchCase.from_parent(self, name="case")


        def pytest_collect_file(file_path, parent):
            if file_path.suffix == ".torchcase":
                return TorchCases.from_parent(parent, path=file_path)
    """)
    (pytester.path / "one.torchcase").write_text("")
    result = run(pytester, "--gradexplain")
    result.assert_outcomes(failed=1)
    report = blocks(result)["case"]
    assert report.lstrip().startswith("case failed: grad can be implicitly created")
    assert "+ out.sum().backward()" in section(report)


def test_failing_explanation_never_breaks_the_run(pytester: pytest.Pytester) -> None:
    """The explanation itself raising (here: the API replaced by one that raises) leaves
    the test's own report and the run's outcome as they were, plus a one-line note."""
    pytester.makeconftest("""\
        import gradexplain.api

        def broken(error, kb_dirs=()):
            raise OSError("disk on fire")

        gradexplain.api.report_for_exception = broken
    """)
    pytester.makepyfile(test_suite=SUITE)
    result = run(pytester, "--gradexplain")
    result.assert_outcomes(passed=1, failed=2, errors=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
    report = blocks(result)["test_nonscalar"]
    assert "RuntimeError: grad can be implicitly created" in report
    assert section(report).strip() == (
        "gradexplain could not explain this failure: OSError: disk on fire")


def test_importing_the_plugin_is_cheap() -> None:
    """pytest imports the plugin in every run of the environment, enabled or not."""
    heavy = ("torch", "rich", "yaml", "libcst", "gradexplain.api", "gradexplain.knowledge")
    code = ("import sys, gradexplain.pytest_plugin\n"
            f"print(' '.join(m for m in {heavy!r} if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True)
    assert done.stdout.strip() == ""
