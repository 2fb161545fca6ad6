"""Static checks on knowledge-base regexes, read from Python's own parse tree.

Messages come from logs anyone can write into and entries are written by users, so a pattern
must not backtrack catastrophically on hostile text: `unsafe_reason` is the one validation a
loader needs (it also reports patterns that do not compile). `required_literal` gives text that
every match contains, so the matcher can skip a pattern whose text is absent from the message.

`unsafe_reason` errs towards rejecting. Its rules:
- Inside a loop (any repeat with max >= 2: a bound does not help, as k iterations split a run
  of text in n**k ways) every choice must be decided by the next character: a variable repeat
  must not start with a character that may follow it in the loop (`(a+)+`, `(\\w+\\s?)*`,
  `(.*,)*`) and no two alternatives may start alike (`(?:.|\\s)*`). Fenced shapes such as
  `(?:[^()]|\\([^()]*\\))*` pass.
- A quantified group whose alternatives, as written, start alike (`(a|ab)+`, `(\\w|\\d)+`): the
  parser factors or merges these, but the group loop still takes quadratic time.
- Three repeats with max > UNBOUNDED over shared characters in one sequence, with nothing
  between them that the first cannot match and no anchor, all but the last free to stop
  anywhere (what follows can start another iteration): `.*\\s*.*`, `a.*b.*c.*d`, cubic time.
  `foo.*bar.*baz` passes (two repeats), as does `[^\\n]*key\\s*=\\s*v` (`\\s*` is fenced).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from functools import lru_cache
from itertools import combinations, pairwise
from typing import Any

if sys.version_info >= (3, 11):
    import re._parser as _parser  # sre_parse is deprecated from 3.11
else:
    import sre_parse as _parser

UNBOUNDED = 1000  # a repeat with a larger max (or none) counts as unbounded
MIN_LITERAL = 3  # shorter text filters too little to be worth returning
_REPEATS = frozenset({"MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"})
_ATOMS = frozenset({"LITERAL", "NOT_LITERAL", "ANY", "IN"})
_GROUPS = frozenset({"SUBPATTERN", "ATOMIC_GROUP", "BRANCH", "GROUPREF_EXISTS"})
# character sets are compared on these sample characters plus every literal of the pattern
_SAMPLES = frozenset(map(chr, range(128))) | frozenset("\u00a0\u2028\u2019\u2014éßΣ٣中")
_CATEGORIES = {f"CATEGORY_{name}": re.compile(rf"\{letter}") for name, letter in [
    ("DIGIT", "d"), ("NOT_DIGIT", "D"), ("SPACE", "s"), ("NOT_SPACE", "S"), ("WORD", "w"),
    ("NOT_WORD", "W")]}
_ANY_CHAR = re.compile("(?s:.)")
_GROUP_HEAD = re.compile(r"\((?:\?(?:P<\w+>|[aiLmsux-]*:|>))?")
_NESTED = ("a repeat inside a loop can stop or go on at the same character, so text splits "
           "between iterations in many ways and a failing match backtracks exponentially")
_ALTERNATIVES = ("alternatives inside a repeat can start with the same character, so a failing "
                 "match backtracks over every way of choosing between them")
_POLYNOMIAL = ("three or more unbounded repeats over the same characters follow each other, so "
               "a failing match tries every way of splitting the text between them")
_EMPTY: frozenset[str] = frozenset()


def unsafe_reason(regex: str) -> str | None:
    """Say why `regex` is unfit for hostile text (or does not compile); None when it is fit."""
    try:
        re.compile(regex)
        tree = _parser.parse(regex)
    except (re.error, OverflowError, RecursionError) as error:
        return f"does not compile: {error}"
    pattern, flags = _Pattern(tree), tree.state.flags
    found = _ambiguous(pattern, tree, _EMPTY, in_loop=False)
    written = () if flags & re.VERBOSE else _written_alternatives(regex)
    if not found and any(_overlap(pattern, alternatives, flags) for alternatives in written):
        found = _ALTERNATIVES
    if not found and any(_polynomial(pattern, seq) for seq in _sequences(tree)):
        found = _POLYNOMIAL
    return found


def required_literal(regex: str) -> str | None:
    """Longest text every match of `regex` contains; None when none of MIN_LITERAL characters
    can be proven. Case-insensitive patterns never give one."""
    try:
        tree = _parser.parse(regex)
    except (re.error, OverflowError, RecursionError):
        return None
    if _Pattern(tree).folds:
        return None
    best = max(_runs(tree), key=len)
    return best if len(best) >= MIN_LITERAL else None


def _runs(seq: Any) -> list[str]:
    """Literal runs every match of `seq` contains. The first run starts `seq` and the last
    ends it (either may be empty), so that a group's runs join the text around it."""
    runs, current = [], ""
    for name, av in _items(seq):
        if name == "LITERAL":
            current += chr(av)
        elif name in ("SUBPATTERN", "ATOMIC_GROUP"):
            first, *inner = _runs(_children(name, av)[0])
            runs += [current + first, *inner[:-1]] if inner else []
            current = inner[-1] if inner else current + first
        else:  # a branch, a class, an assertion or a repeat breaks the run
            runs.append(current)
            current = ""
            if name in _REPEATS and av[0] >= 1:
                runs += _runs(av[2])  # the first iteration holds the body's runs
    return [*runs, current]


def _items(seq: Any) -> list[tuple[str, Any]]:
    """Opcodes by name, so that the same code reads the 3.10 and 3.11+ parsers."""
    return [(op.name, av) for op, av in getattr(seq, "data", seq)]


def _children(name: str, av: Any) -> list[Any]:
    if name in _REPEATS or name in ("SUBPATTERN", "ASSERT", "ASSERT_NOT"):
        return [av[-1]]
    if name == "BRANCH":
        return list(av[1])
    if name == "GROUPREF_EXISTS":
        return [av[1], av[2] or []]
    return [av] if name == "ATOMIC_GROUP" else []


def _walk(seq: Any) -> Iterator[tuple[str, Any]]:
    for name, av in _items(seq):
        yield name, av
        for child in _children(name, av):
            yield from _walk(child)


def _sequences(tree: Any) -> list[Any]:
    return [tree] + [child for name, av in _walk(tree) for child in _children(name, av)]


def _opened(seq: Any) -> list[Any]:
    """The items of `seq` with its plain groups opened, as they follow each other in a match."""
    items: list[Any] = []
    for op, av in getattr(seq, "data", seq):
        items += _opened(av[3]) if op.name == "SUBPATTERN" else [(op, av)]
    return items


class _Pattern:
    """What the parts of one pattern can match. Character sets are the sample characters
    they match; a backreference stands for its group."""

    def __init__(self, tree: Any) -> None:
        flags = [tree.state.flags] + [av[1] for name, av in _walk(tree) if name == "SUBPATTERN"]
        self.folds = any(flag & re.IGNORECASE for flag in flags)
        self.dotall = any(flag & re.DOTALL for flag in flags)
        literals = [av for name, av in _walk(tree) if name in ("LITERAL", "NOT_LITERAL")]
        literals += [value for name, av in _walk(tree) if name == "IN"
                     for op, value in av if op.name == "LITERAL"]
        self.samples = _SAMPLES | set(map(chr, literals))
        self.groups = {av[0]: av[3] for name, av in _walk(tree) if name == "SUBPATTERN" and av[0]}

    def atom(self, name: str, av: Any) -> frozenset[str]:
        if name == "LITERAL":
            chars = frozenset(chr(av))
        elif name == "NOT_LITERAL":
            chars = self.samples - {chr(av)}
        elif name == "ANY":
            chars = self.samples if self.dotall else self.samples - {"\n"}
        else:
            chars = self.members(av)
        return chars | {ch.swapcase() for ch in chars} if self.folds else chars

    def members(self, items: Any) -> frozenset[str]:
        """Characters of a class: sample characters only, save for its literals."""
        chars: set[str] = set()
        for op, value in items:
            if op.name == "LITERAL":
                chars.add(chr(value))
            elif op.name == "CATEGORY":
                chars |= _category(value.name, self.samples)
            elif op.name == "RANGE":
                chars |= {ch for ch in self.samples if value[0] <= ord(ch) <= value[1]}
        negated = bool(items) and items[0][0].name == "NEGATE"
        return self.samples - chars if negated else frozenset(chars)

    def nullable(self, seq: Any) -> bool:
        return all(self.nullable_item(name, av) for name, av in _items(seq))

    def nullable_item(self, name: str, av: Any) -> bool:
        if name in _REPEATS:
            return av[0] == 0 or self.nullable(av[2])
        if name in _GROUPS:
            return any(map(self.nullable, _children(name, av)))
        if name == "GROUPREF":
            return self.nullable(self.groups.get(av, []))
        return name not in _ATOMS  # an assertion

    def first(self, seq: Any) -> frozenset[str]:
        """Characters a match of `seq` can start with (none for the empty match)."""
        out = _EMPTY
        for name, av in _items(seq):
            if name in _ATOMS:
                out |= self.atom(name, av)
            elif name == "GROUPREF":
                out |= self.first(self.groups.get(av, []))
            elif name in _REPEATS or name in _GROUPS:
                out = out.union(*map(self.first, _children(name, av)))
            if not self.nullable_item(name, av):
                break
        return out

    def follow(self, rest: Any, after: frozenset[str]) -> frozenset[str]:
        """Characters that can come next when `rest`, then text starting with `after`, follows."""
        return self.first(rest) | (after if self.nullable(rest) else _EMPTY)

    def chars(self, seq: Any) -> frozenset[str]:
        """Every character a match of `seq` can contain."""
        atoms = [self.atom(name, av) for name, av in _walk(seq) if name in _ATOMS]
        refs = [self.chars(self.groups.get(av, [])) for name, av in _walk(seq)
                if name == "GROUPREF"]
        return _EMPTY.union(*atoms, *refs)


@lru_cache(maxsize=256)
def _category(name: str, samples: frozenset[str]) -> frozenset[str]:
    return frozenset(filter(_CATEGORIES.get(name, _ANY_CHAR).fullmatch, samples))


def _ambiguous(pattern: _Pattern, seq: Any, after: frozenset[str], in_loop: bool) -> str | None:
    """Find a choice inside a loop that the next character does not decide. `after` is what
    can follow `seq` within the innermost loop, the loop's own start included; text after the
    outermost loop is left out, as a choice there costs polynomial time at most."""
    raw = getattr(seq, "data", seq)
    for index, (name, av) in enumerate(_items(seq)):
        follow = pattern.follow(raw[index + 1:], after)
        children, inner, loop = _children(name, av), follow, in_loop
        if name in _REPEATS:
            if in_loop and av[0] < av[1] and pattern.first(av[2]) & follow:
                return _NESTED
            loop, again = in_loop or av[1] > 1, pattern.first(av[2]) if av[1] > 1 else _EMPTY
            inner = again | (follow if in_loop else _EMPTY)  # the body may start over
        elif name in ("BRANCH", "GROUPREF_EXISTS") and in_loop:
            starts = [pattern.follow(alternative, follow) for alternative in children]
            if any(a & b for a, b in combinations(starts, 2)):
                return _ALTERNATIVES
        found = next(filter(None, (_ambiguous(pattern, c, inner, loop) for c in children)), None)
        if found:
            return found
    return None


def _written_alternatives(regex: str) -> Iterator[list[str]]:
    """Alternatives, as written, of each group followed by `*`, `+` or `{`: the parser merges
    `(\\w|\\d)` into one class and factors `(a|ab)` into `a(?:|b)`, hiding their overlap."""
    groups: list[tuple[int, list[int]]] = []
    index = 0
    while index < len(regex):
        char = regex[index]
        if char == "[":  # skip a class, where `(`, `|` and `]` first are literal
            index += 1 + regex.startswith("^", index + 1)
            index += regex.startswith("]", index)
            while index < len(regex) and regex[index] != "]":
                index += 2 if regex[index] == "\\" else 1
        elif char == "(":
            head = _GROUP_HEAD.match(regex, index)
            groups.append((head.end() if head else index + 1, []))
        elif char == "|" and groups:
            groups[-1][1].append(index)
        elif char == ")" and groups:
            start, bars = groups.pop()
            if bars and regex[index + 1:index + 2] in ("*", "+", "{"):
                yield [regex[a + 1:b] for a, b in pairwise([start - 1, *bars, index])]
        index += 2 if char == "\\" else 1


def _overlap(pattern: _Pattern, alternatives: list[str], flags: int) -> bool:
    """Whether two written alternatives that cannot match empty text start alike."""
    try:
        parsed = [_parser.parse(alternative, flags) for alternative in alternatives]
    except re.error:
        return False  # a backreference or a lookaround head, which needs the whole pattern
    starts = [pattern.first(alt) for alt in parsed if not pattern.nullable(alt)]
    return any(a & b for a, b in combinations(starts, 2))


def _polynomial(pattern: _Pattern, seq: Any) -> bool:
    """Whether three unbounded repeats over shared characters follow each other in `seq`, with
    nothing between them that the first cannot match. Each repeat free to stop anywhere
    multiplies the work; a fenced one (what follows cannot start it) adds one scan."""
    raw, chain, loose, fenced = _opened(seq), _EMPTY, 0, False
    for index, (name, av) in enumerate(_items(raw)):
        chars = pattern.chars(raw[index:index + 1])
        unbounded = name in _REPEATS and av[1] > UNBOUNDED
        free = unbounded and bool(pattern.first(av[2]) & pattern.first(raw[index + 1:]))
        if unbounded and chars & chain:
            loose, fenced = loose + free, fenced or not free
        elif unbounded and (av[0] > 0 or not chain):
            chain, loose, fenced = chars, int(free), not free
        elif name == "AT" or not (pattern.nullable_item(name, av) or chars <= chain):
            chain, loose, fenced = _EMPTY, 0, False  # an anchor fixes where repeats hand over
        if loose + fenced >= 3:
            return True
    return False
