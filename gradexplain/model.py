"""Plain data passed between the stages: parsed tracebacks, knowledge entries, matches.

Every stage takes and returns these frozen dataclasses, so that parsing, matching,
diagnosis and rendering can be tested (and replaced) one at a time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

TYPE_CHECKING = False  # importing typing costs 10 ms; annotations are strings
if TYPE_CHECKING:
    from typing import Any


@dataclass(frozen=True)
class Frame:
    """One stack frame as the traceback showed it."""

    file: str
    line: int | None
    function: str | None
    code: str | None


@dataclass(frozen=True)
class ExceptionInfo:
    """The exception that ended a traceback; `type` is None for a bare message."""

    type: str | None
    message: str

    @property
    def short_type(self) -> str | None:
        """The class name without its module (`torch.OutOfMemoryError` -> `OutOfMemoryError`)."""
        return self.type.rsplit(".", 1)[-1] if self.type else None


@dataclass(frozen=True)
class Traceback:
    """One traceback found in the input.

    `parent` and `relation` link the parts of a chain: "cause" (raise ... from),
    "context" (during handling of ...) or "original" (a worker's traceback that torch
    re-raised inside another exception's message). `stream` is the rank or process
    prefix its lines carried, if any. `kind` is "warning" for a line the warnings module
    printed (`file.py:12: UserWarning: ...`), whose one frame is where it was issued.
    """

    exception: ExceptionInfo
    frames: tuple[Frame, ...] = ()
    parent: int | None = None
    relation: str | None = None
    stream: str | None = None
    complete: bool = True
    kind: str = "error"

    @property
    def is_warning(self) -> bool:
        return self.kind == "warning"


@dataclass(frozen=True)
class Pattern:
    """A message regex. Messages too generic to name an autograd problem on their own
    (`'NoneType' object has no attribute 'zero_'`) are gated: `after_warning` must match a
    warning printed before the error, and/or `code` the statement that raised it."""

    regex: str
    torch: str = "current"
    after_warning: str | None = None
    code: str | None = None


@dataclass(frozen=True)
class Evidence:
    """A regex looked for in one place: `code` (the blamed statement), `source` (its file)
    or `message`; a `not_` prefix on the place negates the test."""

    where: str
    regex: str


@dataclass(frozen=True)
class Cause:
    """A possible cause. `when` gates it (all must hold); `evidence` ranks it (any may hold);
    `finder` reads the user's code for the statements that show it."""

    id: str
    text: str
    evidence: tuple[Evidence, ...] = ()
    when: tuple[Evidence, ...] = ()
    finder: str | None = None  # a static finder in codeflow.FINDERS that locates the cause


@dataclass(frozen=True)
class Rewrite:
    """How to tailor a fix to the user's statement: a regex over the code and its replacement."""

    find: str
    replace: str


@dataclass(frozen=True)
class AutoFix:
    """An automatic fix: a registered transformer, its arguments, and how safe it is."""

    transformer: str
    applicability: str  # safe | unsafe | display-only
    safety: str  # one sentence: why it is (or is not) safe
    args: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class Fix:
    id: str
    title: str
    before: str
    after: str
    causes: tuple[str, ...] = ()
    rewrites: tuple[Rewrite, ...] = ()  # tried in order; the first that matches is used
    note: str | None = None
    auto: AutoFix | None = None


@dataclass(frozen=True)
class Detect:
    """A static detector for `gradexplain check`: its name in detectors.REGISTRY, the
    confidence of the hits this item reports, the message (a template filled with the
    detector's names) and the id of the entry's fix to offer, if any."""

    detector: str
    confidence: str  # high | medium
    message: str
    fix: str | None = None


@dataclass(frozen=True)
class Condition:
    """A frame condition: some frame's function matches `frame_function`; adds `weight`."""

    frame_function: str
    weight: float = 0.1


@dataclass(frozen=True)
class RaisedIn:
    """Where in the stack an error must be raised, for entries about code rather than a
    message (an error inside the user's own backward): a frame whose file matches `engine`
    (autograd's engine), below it a frame of the user's, and that frame's caller's file
    matching `called_from` (the engine calling a hook, `Function.apply` calling backward)."""

    engine: str
    called_from: str


@dataclass(frozen=True)
class Entry:
    id: str
    title: str
    family: str
    exceptions: tuple[str, ...]
    patterns: tuple[Pattern, ...]
    summary: str
    why: str
    causes: tuple[Cause, ...]
    fixes: tuple[Fix, ...]
    not_patterns: tuple[str, ...] = ()
    conditions: tuple[Condition, ...] = ()
    known_problems: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    verified_on: tuple[str, ...] = ()
    examples: tuple[str, ...] = ()
    facts_note: str | None = None  # read beside the live facts: what the numbers should be
    raised_in: RaisedIn | None = None
    fallback: bool = False  # dropped when an entry with a message pattern matches too
    detects: tuple[Detect, ...] = ()  # static detectors, for `gradexplain check`
    path: str = ""


@dataclass(frozen=True)
class Match:
    entry: Entry
    score: float
    pattern: Pattern


@dataclass(frozen=True)
class UserFrame:
    """The frame to blame, with the statement read from disk when the file is here."""

    index: int
    frame: Frame
    statement: str | None = None
    from_disk: bool = False


@dataclass(frozen=True)
class Analysis:
    """One traceback with what was concluded about it."""

    traceback: Traceback
    user_frames: tuple[bool, ...]
    user_frame: UserFrame | None
    matches: tuple[Match, ...] = field(default_factory=tuple)
    facts: dict[str, Any] = field(default_factory=dict)  # live facts, from `gradexplain run`
    warnings: tuple[str, ...] = ()  # messages of the warnings printed before it
    ranks: tuple[str, ...] = ()  # the ranks (stream prefixes) that printed the same error


@dataclass(frozen=True)
class Report:
    """Everything `explain` found in one input; `primary` indexes `analyses`."""

    analyses: tuple[Analysis, ...]
    primary: int | None
