"""regexcheck: knowledge regexes must be safe on hostile text, and the literal pre-filter sound."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from gradexplain.matcher import MESSAGE_WINDOW
from gradexplain.regexcheck import UNBOUNDED, required_literal, unsafe_reason

KNOWLEDGE = Path(__file__).resolve().parent.parent / "knowledge"
SLOW_SECONDS = 0.5

# bool-ambiguous once shipped this rewrite: cubic, as `\s+`, the lazy group and `\s*` share
# a run of spaces (4.8 s on an assert followed by 2000 spaces)
OLD_ASSERT_FIND = r"^(?P<kw>\s*assert)\s+(?P<a>[^#=,\n]+?)\s*==\s*(?P<b>[^#,\n]+?)(?=\s*(?:,|#|$))"
NESTED, ALTERNATIVES, POLYNOMIAL = "inside a loop", "alternatives", "unbounded repeats"
REJECTED = [
    (r"(a+)+", NESTED),
    (r"(\w+\s?)*$", NESTED),
    (r"(?:x*)*", NESTED),
    (r"(.*,)*", NESTED),
    (r"((ab)+)+", NESTED),
    (r"(?:\s*,\s*)*", NESTED),  # the spaces around a comma split between iterations
    (r"(?:x[ab]*|[ab])*", NESTED),
    (r"(a?a)+", NESTED),
    (r"(a{1,5})+", NESTED),
    (r"(a+){2,5}", NESTED),  # a bound on the outer loop does not help: n**5 splits
    (r"(a|a)*", ALTERNATIVES),
    (r"(a|ab)+", ALTERNATIVES),
    (r"(\w|\d)+", ALTERNATIVES),
    (r"(?:.|\s)*", ALTERNATIVES),
    (r"(?P<word>foo|for)+x", ALTERNATIVES),
    (r".*.*.*x", POLYNOMIAL),
    (r".*\s*.*", POLYNOMIAL),
    (r"a.*b.*c.*d", POLYNOMIAL),
    (r"(.*)a(?P<middle>.*)b(.*)c", POLYNOMIAL),
    (r"\w*\s*\w*\s*\w*!", POLYNOMIAL),
    (rf"x.{{0,{UNBOUNDED + 1}}}=.*=.*", POLYNOMIAL),
    (OLD_ASSERT_FIND, POLYNOMIAL),
]
ACCEPTED = [
    # the safe rewrite of OLD_ASSERT_FIND: each name is words of non-space characters
    r"^(?P<kw>\s*assert)\s+(?P<a>[^\s#=,]+(?:[^\S\n]+[^\s#=,]+)*)\s*==\s*"
    r"(?P<b>[^\s#,]+(?:[^\S\n]+[^\s#,]+)*)(?=\s*(?:,|#|$))",
    r"grad can be implicitly created only for scalar outputs",
    r"element \d+ of tensors does not require grad",
    r"Expected .{0,200} but got",
    r"(?:foo|bar)+",
    r"one of the variables needed for gradient computation has been modified by an inplace "
    r"operation",
    r"foo.*bar.*baz",
    rf".{{0,{UNBOUNDED}}}x.{{0,{UNBOUNDED}}}x.{{0,{UNBOUNDED}}}",
    r"(?:[^()]|\([^()]*\))*",
    r"[^()]*(?:\([^()]*\)[^()]*)*",
    r"(?:\s*,\s*\w+)*",
    r"(?:ab*)*",
    r"(?:\d{1,3},)*\d{1,3}",
    r"name\s*=\s*\w+.*value\s*=\s*\w+",
    r"(?x) a (?: b | c )+ d  # verbose",
]


@pytest.mark.parametrize(("regex", "rule"), REJECTED)
def test_rejects_backtracking_shapes(regex: str, rule: str) -> None:
    reason = unsafe_reason(regex)
    assert reason is not None and rule in reason


@pytest.mark.parametrize("regex", ACCEPTED)
def test_accepts_common_shapes(regex: str) -> None:
    assert unsafe_reason(regex) is None


@pytest.mark.parametrize("regex", ["(", r"a{2,1}", r"(?<=a+)b", r"\1(a)", "[z-a]"])
def test_invalid_regex_gets_a_reason(regex: str) -> None:
    reason = unsafe_reason(regex)
    assert reason is not None and reason.startswith("does not compile")


@pytest.mark.filterwarnings("ignore::FutureWarning")  # "possible nested set" and kin
@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(["a", "b", "(", ")", "(?:", "(?P<n>", "(?P=n)", r"\1", "(?(1)", "|",
                                 "*", "+", "?", "{2,}", "[", "]", "[^", r"\d", r"\b", "(?=",
                                 "(?<=", "(?i)", "(?x)", "#", "\\", "-", " ", "é"])).map("".join))
def test_never_crashes(regex: str) -> None:
    reason, literal = unsafe_reason(regex), required_literal(regex)
    assert reason is None or isinstance(reason, str)
    assert literal is None or len(literal) >= 3


def _entry_regexes(entry: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(field, regex) for every regex an entry holds."""
    for pattern in entry.get("patterns") or []:
        yield from ((f"patterns.{key}", pattern[key]) for key in ("regex", "after_warning", "code")
                    if pattern.get(key))
    yield from (("not_patterns", regex) for regex in entry.get("not_patterns") or [])
    yield from (("conditions.frame_function", condition["frame_function"])
                for condition in entry.get("conditions") or [] if "frame_function" in condition)
    raised_in = entry.get("raised_in") or {}
    yield from ((f"raised_in.{key}", regex) for key, regex in raised_in.items())
    for cause in entry.get("causes") or []:
        for field in ("evidence", "when"):
            yield from ((f"causes.{field}.{kind}", regex) for check in cause.get(field) or []
                        for kind, regex in check.items())
    for fix in entry.get("fixes") or []:
        rewrites = fix.get("rewrite") or []
        yield from (("fixes.rewrite.find", rewrite["find"])
                    for rewrite in (rewrites if isinstance(rewrites, list) else [rewrites]))


@cache
def shipped() -> list[tuple[str, str, str]]:
    """(file, field, regex) for every regex in the knowledge base."""
    return [(path.relative_to(KNOWLEDGE).as_posix(), field, regex)
            for path in sorted(KNOWLEDGE.rglob("*.yaml"))
            for field, regex in _entry_regexes(yaml.safe_load(path.read_text(encoding="utf-8")))]


def shipped_messages() -> list[str]:
    return sorted({regex for _, field, regex in shipped()
                   if field in ("patterns.regex", "not_patterns")})


def test_every_kind_of_shipped_regex_is_collected() -> None:
    fields = {field.split(".")[0] for _, field, _ in shipped()}
    assert {"patterns", "not_patterns", "conditions", "raised_in", "causes", "fixes"} <= fields
    assert len(shipped_messages()) > 100


def _shipped_params() -> list[Any]:
    return [pytest.param(path, field, regex, id=f"{path}:{field}:{n}")
            for n, (path, field, regex) in enumerate(shipped())]


@pytest.mark.parametrize(("path", "field", "regex"), _shipped_params())
def test_shipped_regex_is_accepted(path: str, field: str, regex: str) -> None:
    assert unsafe_reason(regex) is None, f"{path}: {field}: {unsafe_reason(regex)}"


def _fragments(regex: str) -> list[str]:
    """The literal text of a pattern, as the pieces between its operators."""
    pieces = re.findall(r"(?:[^\\\[\](){}?*+|^$.]|\\[^A-Za-z0-9])+", regex)
    return [re.sub(r"\\(.)", r"\1", piece) for piece in pieces if len(piece) > 1]


def _fill(piece: str) -> str:
    return (piece * (MESSAGE_WINDOW // max(len(piece), 1) + 1))[:MESSAGE_WINDOW]


def hostile_texts(regex: str) -> list[str]:
    """Text of one message window that matches a pattern almost, again and again."""
    fragments = _fragments(regex) or ["x"]
    joined = "".join(fragments)
    texts = [_fill(piece) for fragment in fragments for piece in (fragment, fragment[:-1])]
    texts += [_fill(joined[:-1]), _fill(" ".join(fragments[:-1]) + " 1 "), _fill(joined + "(")]
    texts += [_fill(piece) for piece in (" ", "a", "1", "a1 ", "[1, ", "(x) ", "\\.", "'x' ")]
    return texts


def assert_fast(regex: str, texts: list[str]) -> None:
    compiled = re.compile(regex)
    for text in texts:
        start = time.perf_counter()
        compiled.search(text)
        elapsed = time.perf_counter() - start
        assert elapsed < SLOW_SECONDS, f"{elapsed:.2f}s on {text[:60]!r}..."


@pytest.mark.parametrize("regex", shipped_messages())
def test_shipped_message_pattern_is_fast_on_hostile_text(regex: str) -> None:
    assert_fast(regex, hostile_texts(regex))


@pytest.mark.parametrize(("regex", "literal"), [
    ("grad can be implicitly created", "grad can be implicitly created"),
    (r"element \d+ of tensors", " of tensors"),
    (r"(?:a|b)xyz", "xyz"),
    (r"(?i)hello", None),
    (r"x?abc", "abc"),
    ("ab", None),
    (r"a(bc)d", "abcd"),
    (r"a(?:b(?:c)d)e", "abcde"),
    (r"(?:abc)+de", "abc"),
    (r"(?:abc)*de", None),
    (r"a(?i:bcd)ef", None),
    (r"\(i\.e\. 1-element", "(i.e. 1-element"),
    (r"(?:tensors|variables) does not", " does not"),
    (r"(?x) a b c  d  # verbose", "abcd"),
    (r"ab\bcd", None),
    ("(unclosed", None),
])
def test_required_literal(regex: str, literal: str | None) -> None:
    assert required_literal(regex) == literal


SOUNDNESS_PATTERNS = [
    r"abc", r"xabcy", r"a(bc)d", r"a(?:bc)d", r"(?:abc)+", r"(?:abc)*xyz", r"x?abc", r"ab?cxyz",
    r"(?:a|b)xyz", r"abc|xyz", r"ab(?:c|x)yz", r"a(b|c)abc", r"(?P<n>ab)c(?P=n)", r"(ab)\1c",
    r"\(a\.b\)", r"a\.\.b", r"(?i)abc", r"a(?i:bc)d", r"(?i:ab)cde", r"a{2,3}bcd", r"(?:ab){2}c",
    r"(?:abc)?xyz", r"\bab c", r"a(?=bc)bcx", r"(?<=a)bcd", r"(?:a(?:bc)+)+x", r"[abc]xyz",
    r"x.yz", r"ab\s*cd ", r"(?:x|xy)abc", r"a(?:b(?:c|)x)yz", r"(a)?(?(1)bc|xy)z",
    r"(?:ab(?:cx)?y)+z", r"a(?:)bc",
]
TEXT = st.lists(st.sampled_from(
    ["a", "b", "c", "x", "y", "z", " ", "(", ")", ".", "A", "B", "C", "abc", "xyz", "bc", "ab",
     "cx", "ABC", "bcd", "(a.b)"]), max_size=40).map("".join)


@settings(max_examples=300, deadline=None)
@given(TEXT)
def test_required_literal_is_in_every_match(text: str) -> None:
    for regex in SOUNDNESS_PATTERNS:
        literal, compiled = required_literal(regex), re.compile(regex)
        for start in range(len(text) + 1) if literal else ():
            match = compiled.search(text, start)
            assert match is None or literal in match.group(0), (regex, literal, text)


def test_soundness_patterns_give_literals_and_match() -> None:
    """Keep the property above from passing vacuously: most patterns prove a literal, and
    text from the same alphabet matches them."""
    with_literal = [regex for regex in SOUNDNESS_PATTERNS if required_literal(regex)]
    sample = "abcxyz xabcy abcd (a.b) a..b aabcd abcab abcdd aABcd bcxyz aabcx abxyz abcdxabcx "
    assert len(with_literal) >= 20
    assert sum(re.search(regex, sample) is not None for regex in with_literal) >= 15


SOURCE_SIZE = 100_000  # a big training script; the user's whole file is what `source` sees


def hostile_sources(regex: str) -> list[str]:
    """User files that nearly match, again and again: blank lines, indentation, one long
    word, the pattern's own fragments."""
    pieces = ["\n", " ", "\t\n", "loss", "a", "self.x = ", "x.y", "(", "[1, ", "    return\n",
              *_fragments(regex)]
    return [(piece * (SOURCE_SIZE // len(piece) + 1))[:SOURCE_SIZE] + "!" for piece in pieces]


def shipped_code_regexes() -> list[str]:
    """Regexes run on the user's code: evidence and gates on the statement or the file."""
    return sorted({regex for _, field, regex in shipped()
                   if field.endswith((".code", ".source", ".not_code", ".not_source"))})


@pytest.mark.parametrize("regex", shipped_code_regexes())
def test_shipped_code_regex_is_fast_on_a_hostile_file(regex: str) -> None:
    assert_fast(regex, hostile_sources(regex))


def test_anti_fix_search_is_fast_on_a_hostile_file() -> None:
    from gradexplain import antifixes

    for text in hostile_sources("loss.requires_grad = True"):
        start = time.perf_counter()
        antifixes.find(text)
        assert time.perf_counter() - start < SLOW_SECONDS, text[:40]
    assert antifixes.find("total_loss.requires_grad = True\n")
    assert not antifixes.find("weights.requires_grad = True\n")
