"""Load and validate the YAML knowledge base.

Entries are untrusted text as far as the loader is concerned (users add their own), so
every field is checked and every problem is reported as `file: field: what is wrong`,
which is what someone writing an entry needs to fix it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path

from gradexplain.model import (
    AutoFix,
    Cause,
    Condition,
    Detect,
    Entry,
    Evidence,
    Fix,
    Pattern,
    RaisedIn,
    Rewrite,
)

TYPE_CHECKING = False  # importing typing costs 10 ms; annotations are strings
if TYPE_CHECKING:
    from typing import Any

    from gradexplain.kbcache import EntryCache

ENV_VAR = "GRADEXPLAIN_KB"
EVIDENCE_KINDS = ("code", "source", "message", "warning")
GATE_KINDS = EVIDENCE_KINDS + tuple("not_" + kind for kind in EVIDENCE_KINDS)
ID_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
REQUIRED = ("id", "title", "exception", "patterns", "summary", "why", "causes", "fixes")
KNOWN = REQUIRED + (
    "not_patterns",
    "conditions",
    "known_problems",
    "references",
    "verified_on",
    "examples",
    "facts_note",
    "raised_in",
    "fallback",
    "detect",
)


class EntryError(Exception):
    """A knowledge entry that cannot be used; the text names the file and the field."""


class EntryRef:
    """An entry known by what rules it out without building it: its exception types, and
    for each message pattern a literal every match contains (None where none could be
    proven). It is built on first use. Plain slots, since a large knowledge base makes
    thousands of these on every run."""

    __slots__ = ("id", "exceptions", "literals", "build", "built")

    def __init__(self, entry_id: str, exceptions: Sequence[str],
                 literals: Sequence[str | None], build: Callable[[], Entry]) -> None:
        self.id = entry_id
        self.exceptions = exceptions
        self.literals = literals
        self.build = build
        self.built: Entry | None = None

    @classmethod
    def of(cls, entry: Entry, literals: Sequence[str | None] | None = None) -> EntryRef:
        """An entry already built (`literals` overrides those computed from it)."""
        if literals is None:
            literals = tuple(literal_of(p.regex) for p in entry.patterns)
        ref = cls(entry.id, entry.exceptions, literals, lambda: entry)
        ref.built = entry
        return ref

    def entry(self) -> Entry:
        if self.built is None:
            self.built = self.build()
        return self.built


@lru_cache(maxsize=8192)
def literal_of(regex: str) -> str | None:
    from gradexplain.regexcheck import required_literal

    return required_literal(regex)


class KnowledgeBase:
    """The entries, each built only when needed: `select` looks at the refs alone, so the
    cost of explaining grows little with the number of entries."""

    def __init__(self, refs: Sequence[EntryRef], problems: Sequence[str] = ()) -> None:
        self.refs = tuple(refs)
        self.problems = tuple(problems)
        self.by_exception: dict[str, list[EntryRef]] | None = None

    @classmethod
    def of(cls, entries: Sequence[Entry]) -> KnowledgeBase:
        return cls([EntryRef.of(entry) for entry in entries])

    @property
    def entries(self) -> tuple[Entry, ...]:
        return tuple(ref.entry() for ref in self.refs)

    def raising(self, admits: Callable[[str], bool]) -> list[EntryRef]:
        """The refs that name an exception type `admits` accepts: a few lookups per type
        rather than a test per entry."""
        if self.by_exception is None:
            self.by_exception = {}
            for ref in self.refs:
                for name in ref.exceptions:
                    self.by_exception.setdefault(name, []).append(ref)
        chosen: dict[int, EntryRef] = {}
        for name, refs in self.by_exception.items():
            if admits(name):
                chosen.update((id(ref), ref) for ref in refs)
        return list(chosen.values())

    def get(self, entry_id: str) -> Entry | None:
        return next((ref.entry() for ref in self.refs if ref.id == entry_id), None)


def builtin_dir() -> Path:
    """The shipped entries: inside the package when installed from a wheel, else the checkout's."""
    here = Path(__file__).resolve().parent
    packaged = here / "knowledge"
    return packaged if packaged.is_dir() else here.parent / "knowledge"


def search_dirs(extra: Sequence[str] = ()) -> list[Path]:
    """Built-in first, then GRADEXPLAIN_KB, then --kb: later directories win on equal ids."""
    from_env = [p for p in os.environ.get(ENV_VAR, "").split(os.pathsep) if p.strip()]
    return [builtin_dir(), *(Path(p) for p in from_env), *(Path(p) for p in extra)]


def load(dirs: Sequence[Path], use_cache: bool = True) -> KnowledgeBase:
    """Every entry; a broken entry is reported in `problems`, never fatal. Entries read and
    validated before are taken from the cache (see kbcache) unless it is off; they are
    built when first used."""
    from gradexplain.kbcache import EntryCache, cache_dir

    cache = EntryCache(cache_dir() if use_cache else None)
    by_id: dict[str, EntryRef] = {}
    problems: list[str] = []
    used: set[str] = set()
    for directory in dirs:
        if not directory.is_dir():
            problems.append(f"{directory}: not a directory")
            continue
        root = os.path.realpath(directory)
        for path, status in entry_files_with_status(root):
            key = f"{path}:{status.st_size}:{status.st_mtime_ns}"
            try:
                ref = cached_ref(cache, key, path, root) or fresh_ref(cache, key, path, root)
            except EntryError as error:
                problems.append(str(error))
                continue
            used.add(key)
            by_id[ref.id] = ref
    cache.save(used)
    return KnowledgeBase(list(by_id.values()), problems)


def cached_ref(cache: EntryCache, key: str, path: str, root: str) -> EntryRef | None:
    """The entry as the cache knows it; its body is read when the entry is first used (and
    read from YAML again, validated, should the body have gone)."""
    record = cache.lookup(key)
    if record is None:
        return None

    def build() -> Entry:
        data = cache.body(key)
        family = family_of(path, root)
        if data is not None:
            return parse_entry(data, Path(path), family, validated=True)
        data = read_yaml(Path(path))
        entry = parse_entry(data, Path(path), family)
        cache.repair(key, data)
        return entry

    try:
        entry_id, exceptions, literals = record
    except (TypeError, ValueError):
        return None
    return EntryRef(entry_id, exceptions, literals, build)


def fresh_ref(cache: EntryCache, key: str, path: str, root: str) -> EntryRef:
    data = read_yaml(Path(path))
    entry = parse_entry(data, Path(path), family_of(path, root))
    ref = EntryRef.of(entry)
    cache.put(key, [ref.id, list(ref.exceptions), list(ref.literals)], data)
    return ref


def entry_files(directory: Path) -> list[Path]:
    return [Path(path) for path, _ in entry_files_with_status(os.path.realpath(directory))]


def entry_files_with_status(root: str) -> list[tuple[str, os.stat_result]]:
    """The YAML files under the folder `root` (sorted) with their stat results, from one
    walk: this runs on every explain, for every entry."""
    found: list[tuple[str, os.stat_result]] = []
    pending = [root]
    seen = set(pending)  # a symlink loop must not walk forever
    while pending:
        try:
            with os.scandir(pending.pop()) as listing:
                for item in listing:
                    if item.name.endswith((".yaml", ".yml")) and item.is_file():
                        found.append((item.path, item.stat()))
                    elif item.is_dir():
                        real = os.path.realpath(item.path)
                        if real not in seen:
                            seen.add(real)
                            pending.append(item.path)
        except OSError:
            continue
    found.sort(key=lambda pair: pair[0])
    return found


def family_of(path: str, root: str) -> str:
    parent = os.path.dirname(path)
    return os.path.basename(parent) if parent != root else "general"


def load_entry(path: Path, family: str = "general") -> Entry:
    return parse_entry(read_yaml(path), path, family)


def read_yaml(path: Path) -> Any:
    import yaml

    try:
        # the C loader is several times faster; both construct plain data only
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)  # noqa: S506
    except (OSError, UnicodeDecodeError) as error:
        raise EntryError(f"{path}: cannot read: {error}") from None
    except yaml.YAMLError as error:
        raise EntryError(f"{path}: not valid YAML: {one_line(str(error))}") from None
    return data


def parse_entry(data: Any, path: Path, family: str, validated: bool = False) -> Entry:
    """The entry in `data`; `validated` data (from the cache) skips the costly checks:
    compiling its regexes, and importing the finders and fixes it names."""
    check = Checker(path, validated)
    if not isinstance(data, dict):
        check.fail("", "the file must hold a mapping of fields")
    unknown = sorted(set(data) - set(KNOWN))
    if unknown:
        check.fail(unknown[0], f"unknown field (known: {', '.join(KNOWN)})")
    for name in REQUIRED:
        if name not in data:
            check.fail(name, "required field is missing")
    entry_id = check.text(data, "id")
    if not ID_RE.match(entry_id):
        check.fail("id", f"{entry_id!r} must be kebab-case (a-z, 0-9, '-')")
    if path.stem != entry_id:
        check.fail("id", f"{entry_id!r} must equal the file name {path.stem!r}")
    raised_in = parse_raised_in(check, data)
    fallback = data.get("fallback", False)
    if not isinstance(fallback, bool):
        check.fail("fallback", "must be true or false")
    causes = check.items(data, "causes", parse_cause)
    cause_ids = [c.id for c in causes]
    fixes = check.items(data, "fixes", parse_fix)
    for i, fix in enumerate(fixes):
        for cause_id in fix.causes:
            if cause_id not in cause_ids:
                check.fail(f"fixes[{i}].causes", f"no cause with id {cause_id!r}")
    return Entry(
        id=entry_id,
        title=check.text(data, "title"),
        family=family,
        exceptions=tuple(check.text_list(data, "exception", allow_scalar=True)),
        patterns=check.items(data, "patterns", parse_pattern, required=raised_in is None),
        summary=check.text(data, "summary"),
        why=check.text(data, "why"),
        causes=causes,
        fixes=fixes,
        not_patterns=tuple(check.regex(r, f"not_patterns[{i}]") for i, r in
                           enumerate(check.text_list(data, "not_patterns"))),
        conditions=check.items(data, "conditions", parse_condition, required=False),
        known_problems=tuple(check.text_list(data, "known_problems")),
        references=tuple(check.text_list(data, "references")),
        verified_on=tuple(check.text_list(data, "verified_on")),
        examples=tuple(check.text_list(data, "examples")),
        facts_note=check.optional_text(data, "facts_note", ""),
        raised_in=raised_in,
        fallback=fallback,
        detects=parse_detects(check, data, fixes),
        path=str(path),
    )


def parse_detects(check: Checker, data: dict[str, Any], fixes: tuple[Fix, ...]
                  ) -> tuple[Detect, ...]:
    """`detect: [{detector, confidence, message, fix?}]`: one item per detector and
    confidence (a detector's medium hits take its medium item's message); the fix must be
    one of the entry's fixes with an automatic transformer."""
    detects = check.items(data, "detect", parse_detect, required=False)
    automatic = {fix.id for fix in fixes if fix.auto is not None}
    seen = set()
    for i, detect in enumerate(detects):
        if detect.fix is not None and detect.fix not in automatic:
            check.fail(f"detect[{i}].fix", f"no fix {detect.fix!r} with `auto` in this entry")
        if (detect.detector, detect.confidence) in seen:
            check.fail(f"detect[{i}]", f"a second {detect.confidence} item for "
                       f"{detect.detector!r}")
        seen.add((detect.detector, detect.confidence))
    return detects


def parse_detect(check: Checker, item: dict[str, Any], prefix: str) -> Detect:
    name = check.text(item, "detector", prefix)
    confidence = check.text(item, "confidence", prefix)
    if not check.validated:
        from gradexplain.detectors import CONFIDENCE, REGISTRY

        if name not in REGISTRY:
            check.fail(prefix + "detector", f"unknown detector {name!r} (known: "
                       f"{', '.join(sorted(REGISTRY))})")
        if confidence not in CONFIDENCE:
            check.fail(prefix + "confidence", f"must be one of {', '.join(CONFIDENCE)}")
    return Detect(name, confidence, check.text(item, "message", prefix),
                  check.optional_text(item, "fix", prefix))


def parse_raised_in(check: Checker, data: dict[str, Any]) -> RaisedIn | None:
    """`raised_in: {engine: REGEX, called_from: REGEX}`; with it, `patterns` may be empty."""
    value = data.get("raised_in")
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) != {"engine", "called_from"}:
        check.fail("raised_in", "must be a mapping with exactly `engine` and `called_from`")
    return RaisedIn(check.regex(check.text(value, "engine", "raised_in."), "raised_in.engine"),
                    check.regex(check.text(value, "called_from", "raised_in."),
                                "raised_in.called_from"))


class Checker:
    """Field readers that raise EntryError naming the file and the field path."""

    def __init__(self, path: Path, validated: bool = False) -> None:
        self.path = path
        self.validated = validated

    def fail(self, field: str, problem: str) -> None:
        where = f"{self.path}: {field}: " if field else f"{self.path}: "
        raise EntryError(where + problem)

    def text(self, data: dict[str, Any], key: str, prefix: str = "", strip: bool = True) -> str:
        """A non-empty string; `strip=False` keeps the edges (a regex, a replacement)."""
        value = data.get(key)
        scalar = isinstance(value, (str, int, float)) and not isinstance(value, bool)
        if not scalar or not str(value).strip():
            self.fail(prefix + key, "must be a non-empty string")
        return str(value).strip() if strip else str(value)

    def optional_text(self, data: dict[str, Any], key: str, prefix: str) -> str | None:
        return self.text(data, key, prefix) if key in data else None

    def text_list(self, data: dict[str, Any], key: str, allow_scalar: bool = False,
                  prefix: str = "") -> list[str]:
        value = data.get(key, [])
        if allow_scalar and isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, (str, int, float)) for v in value):
            self.fail(prefix + key, "must be a list of strings")
        if allow_scalar and not value:
            self.fail(prefix + key, "must name at least one item")
        return [str(v) for v in value]

    def regex(self, value: str, field: str) -> str:
        """A regex that compiles and cannot backtrack catastrophically on a hostile log."""
        if self.validated:
            return value
        from gradexplain.regexcheck import unsafe_reason

        try:
            re.compile(value)
        except re.error as error:
            self.fail(field, f"invalid regex {value!r}: {error}")
        reason = unsafe_reason(value)
        if reason is not None:
            self.fail(field, f"unsafe regex {value!r}: {reason}")
        return value

    def items(self, data: dict[str, Any], key: str,
              parse: Callable[[Checker, dict[str, Any], str], Any],
              required: bool = True) -> tuple[Any, ...]:
        value = data.get(key, [])
        if not isinstance(value, list) or (required and not value):
            self.fail(key, "must be a non-empty list" if required else "must be a list")
        parsed = []
        for i, item in enumerate(value):
            prefix = f"{key}[{i}]"
            if not isinstance(item, dict):
                self.fail(prefix, "must be a mapping")
            parsed.append(parse(self, item, prefix + "."))
        return tuple(parsed)

    def gates(self, data: dict[str, Any], key: str, prefix: str,
              kinds: Sequence[str]) -> tuple[Evidence, ...]:
        value = data.get(key, [])
        if not isinstance(value, list):
            self.fail(prefix + key, "must be a list of {kind: regex} mappings")
        found = []
        for i, item in enumerate(value):
            field = f"{prefix}{key}[{i}]"
            if not isinstance(item, dict) or len(item) != 1:
                self.fail(field, f"must be one {{kind: regex}} mapping, kind one of {kinds}")
            (kind, regex), = item.items()
            if kind not in kinds:
                self.fail(field, f"unknown kind {kind!r} (use one of {', '.join(kinds)})")
            if not isinstance(regex, str):
                self.fail(field, "the regex must be a string")
            found.append(Evidence(kind, self.regex(regex, field)))
        return tuple(found)


def parse_pattern(check: Checker, item: dict[str, Any], prefix: str) -> Pattern:
    regex = check.regex(check.text(item, "regex", prefix), prefix + "regex")
    gates = {}
    for gate in ("after_warning", "code"):
        value = check.optional_text(item, gate, prefix)
        gates[gate] = check.regex(value, prefix + gate) if value is not None else None
    return Pattern(regex, check.optional_text(item, "torch", prefix) or "current", **gates)


def parse_condition(check: Checker, item: dict[str, Any], prefix: str) -> Condition:
    function = check.regex(check.text(item, "frame_function", prefix), prefix + "frame_function")
    weight = item.get("weight", 0.1)
    if not isinstance(weight, (int, float)) or not 0 <= weight <= 1:
        check.fail(prefix + "weight", "must be a number between 0 and 1")
    return Condition(function, float(weight))


def parse_cause(check: Checker, item: dict[str, Any], prefix: str) -> Cause:
    cause_id = check.text(item, "id", prefix)
    if not ID_RE.match(cause_id):
        check.fail(prefix + "id", f"{cause_id!r} must be kebab-case")
    return Cause(
        id=cause_id,
        text=check.text(item, "text", prefix),
        evidence=check.gates(item, "evidence", prefix, EVIDENCE_KINDS),
        when=check.gates(item, "when", prefix, GATE_KINDS),
        finder=parse_finder(check, item, prefix),
    )


def parse_finder(check: Checker, item: dict[str, Any], prefix: str) -> str | None:
    name = check.optional_text(item, "finder", prefix)
    if name is None or check.validated:
        return name
    from gradexplain.codeflow import FINDERS

    if name not in FINDERS:
        check.fail(prefix + "finder", f"unknown finder {name!r} (known: {', '.join(FINDERS)})")
    return name


def parse_fix(check: Checker, item: dict[str, Any], prefix: str) -> Fix:
    rewrite = item.get("rewrite", [])
    alternatives = rewrite if isinstance(rewrite, list) else [rewrite]
    rewrites = []
    for i, alternative in enumerate(alternatives):
        field = f"{prefix}rewrite" + (f"[{i}]" if isinstance(rewrite, list) else "")
        if not isinstance(alternative, dict):
            check.fail(field, "must be a mapping with 'find' and 'replace' (or a list of them)")
        find = check.text(alternative, "find", field + ".", strip=False)
        check.regex(find, field + ".find")
        parsed = Rewrite(find, check.text(alternative, "replace", field + ".", strip=False))
        check_replacement(check, parsed, field + ".replace")
        rewrites.append(parsed)
    return Fix(
        id=check.text(item, "id", prefix),
        title=check.text(item, "title", prefix),
        before=check.text(item, "before", prefix),
        after=check.text(item, "after", prefix),
        causes=tuple(check.text_list(item, "causes", prefix=prefix)),
        rewrites=tuple(rewrites),
        note=check.optional_text(item, "note", prefix),
        auto=parse_auto(check, item, prefix) if "auto" in item else None,
    )


def parse_auto(check: Checker, item: dict[str, Any], prefix: str) -> AutoFix:
    auto = item["auto"]
    field = prefix + "auto"
    if not isinstance(auto, dict):
        check.fail(field, "must be a mapping with transformer, applicability and safety")
    name = check.text(auto, "transformer", field + ".")
    applicability = check.text(auto, "applicability", field + ".")
    if not check.validated:
        check_fix_names(check, name, applicability, field)
    args = auto.get("args", {})
    if not isinstance(args, dict):
        check.fail(field + ".args", "must be a mapping")
    return AutoFix(name, applicability, check.text(auto, "safety", field + "."),
                   tuple(sorted(args.items())))


def check_fix_names(check: Checker, transformer: str, applicability: str, field: str) -> None:
    from gradexplain.fixes import APPLICABILITY, REGISTRY

    if transformer not in REGISTRY:
        check.fail(field + ".transformer", f"no transformer {transformer!r} (known: "
                   f"{', '.join(sorted(REGISTRY))})")
    if applicability not in APPLICABILITY:
        check.fail(field + ".applicability", f"must be one of {', '.join(APPLICABILITY)}")


def check_replacement(check: Checker, rewrite: Rewrite, field: str) -> None:
    """A replacement naming a group the regex lacks would only fail on a user's code."""
    if check.validated:
        return
    groups = set(re.compile(rewrite.find).groupindex)
    for name in re.findall(r"\\g<(\w+)>", rewrite.replace):
        if not name.isdigit() and name not in groups:
            check.fail(field, f"names group {name!r}, which 'find' does not define")


def one_line(text: str) -> str:
    return " ".join(text.split())

