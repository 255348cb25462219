"""Safe, located YAML loading: the compiler's first pass.

PyYAML's constructors are not used at all. The document is rebuilt from the parser's event
stream (never recursive, so 500-level nesting cannot overflow the stack) into plain JSON
values, with the line and column of every key and value. Along the way it enforces the
limits that keep a hostile file harmless: size, depth, aliases and the expanded node count
(an alias bomb), and it refuses every explicit tag that would construct an object.

Scalars follow YAML 1.2's core schema rather than PyYAML's YAML 1.1 defaults, because the
pathway language has a key named ``on`` and values such as ``no``; YAML 1.1 would read those
as booleans. Dates and timestamps are checked (``2026-02-30`` is an error) and kept as ISO
strings so that the JSON Schema pass sees JSON types only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import yaml

from carepath.engine import messages
from carepath.engine.messages import say
from carepath.errors import Location, Problem, Text

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Limits:
    """What one file may contain; generous for real pathways, tight for attacks."""

    max_bytes: int = 1_000_000
    max_depth: int = 64
    max_aliases: int = 100
    max_nodes: int = 200_000


@dataclass
class Document:
    """A loaded file: its value, where each path starts, and the problems found loading it."""

    path: str
    value: Any = None
    value_marks: dict[Path, tuple[int, int]] = field(default_factory=dict)
    key_marks: dict[Path, tuple[int, int]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def location(self, path: Path, *, key: bool = False) -> Location:
        """The location of ``path``, or of its nearest located ancestor."""
        marks = self.key_marks if key else self.value_marks
        probe = path
        while True:
            mark = marks.get(probe) or self.value_marks.get(probe)
            if mark is not None:
                return Location(self.path, mark[0], mark[1])
            if not probe:
                return Location(self.path, 1, 1)
            probe = probe[:-1]

    def error(self, path: Path, code: str, message: str | Text, *, key: bool = False) -> None:
        """An error at ``path``; ``message`` a catalogue ``Text`` (a plain string stays English)."""
        self.problems.append(_problem(self.location(path, key=key), code, message))

    def warning(self, path: Path, code: str, message: str | Text) -> None:
        self.problems.append(_problem(self.location(path), code, message, "warning"))


def _problem(location: Location, code: str, message: str | Text, severity: str = "error") -> Problem:
    if isinstance(message, Text):
        return messages.problem(location, code, message, severity)
    return Problem(location, code, message, severity)


_INT = re.compile(r"^[-+]?(0|[1-9][0-9]*)$")
_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_DATE = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}$")
_DATETIME = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}([Tt]|[ \t]+)\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?")
_STANDARD_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:map",
    "tag:yaml.org,2002:seq",
    "!",
}


class _InvalidScalarError(ValueError):
    """A scalar that looks like a date or time but is not one."""

    def __init__(self, text: Text) -> None:
        super().__init__(messages.english(text))
        self.text = text


#: Python's words for an impossible date, as catalogue sentences (the rest stay as written).
_DATE_REASONS = (
    (re.compile(r"day is out of range for month"), "date/day-out-of-range"),
    (re.compile(r"month must be in 1\.\.12"), "date/month-out-of-range"),
    (re.compile(r"hour must be in 0\.\.23"), "date/hour-out-of-range"),
    (re.compile(r"minute must be in 0\.\.59"), "date/minute-out-of-range"),
    (re.compile(r"second must be in 0\.\.59"), "date/second-out-of-range"),
)
#: PyYAML's words for the commonest syntax errors; anything else is shown as PyYAML wrote it.
_YAML_PROBLEMS = (
    (re.compile(r"mapping values are not allowed here"), "yaml/mapping-values"),
    (re.compile(r"could not find expected ':'"), "yaml/no-colon"),
    (re.compile(r"did not find expected key"), "yaml/no-key"),
    (re.compile(r"did not find expected '-' indicator"), "yaml/no-dash"),
    (re.compile(r"did not find expected node content"), "yaml/no-content"),
    (re.compile(r"found unexpected end of stream"), "yaml/end-of-stream"),
    (re.compile(r"found character (?P<char>'.*') that cannot start any token"), "yaml/bad-character"),
    (re.compile(r"found unexpected ':'"), "yaml/unexpected-colon"),
    (re.compile(r"found undefined alias (?P<name>.*)"), "yaml/undefined-alias"),
    (re.compile(r"expected (?P<expected><[^>]*>), but found (?P<found>.*)", re.S), "yaml/expected"),
)


def date_reason(exc: Exception) -> Text:
    """Why Python refused a date, as a catalogue sentence."""
    return messages.recognised(str(exc), _DATE_REASONS, "date/reason")


def _plain_scalar(text: str) -> Any:
    """Resolve an unquoted scalar by YAML 1.2's core schema, plus checked dates."""
    lowered = text.lower()
    if text in ("", "~") or lowered == "null":
        return None
    if lowered in ("true", "false"):
        return lowered == "true"
    if _INT.match(text):
        return int(text)
    if _FLOAT.match(text) and any(ch.isdigit() for ch in text):
        return float(text)
    if _DATE.match(text):
        try:
            year, month, day = (int(part) for part in text.split("-"))
            return date(year, month, day).isoformat()
        except ValueError as exc:
            raise _InvalidScalarError(say("bad-date/not-real", text=text, reason=date_reason(exc))) from None
    if _DATETIME.match(text):
        normalised = re.sub(r"[ \t]+", "T", text.strip(), count=1).replace("Z", "+00:00")
        normalised = re.sub(r"[ \t]+", "", normalised)
        try:
            return datetime.fromisoformat(normalised).isoformat()
        except ValueError as exc:
            raise _InvalidScalarError(
                say("bad-date/not-real-time", text=text, reason=date_reason(exc))
            ) from None
    return text


def _mark(event: Any) -> tuple[int, int]:
    return (event.start_mark.line + 1, event.start_mark.column + 1)


class _Frame:
    """A mapping or sequence under construction."""

    __slots__ = ("container", "path", "pending_key", "size")

    def __init__(self, container: dict[str, Any] | list[Any], path: Path) -> None:
        self.container = container
        self.path = path
        self.pending_key: str | None = None
        self.size = 1


def load_yaml(data: bytes, path: str, limits: Limits | None = None) -> Document:
    """Load one YAML document from ``data``; problems are collected on the Document."""
    limits = limits or Limits()
    doc = Document(path)
    if len(data) > limits.max_bytes:
        doc.error((), "file-too-large", say("file-too-large/size", size=len(data), limit=limits.max_bytes))
        return doc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        doc.problems.append(messages.problem(Location(path, line, column), "not-utf8", say("not-utf8/file")))
        return doc
    text = text.removeprefix("\ufeff")
    if not text.strip():
        doc.error((), "empty-file", say("empty-file/empty"))
        return doc
    try:
        try:
            _build(text, doc, limits, _FAST_LOADER)
        except yaml.YAMLError:
            # libyaml and PyYAML word some syntax errors differently: report PyYAML's
            doc = Document(path)
            _build(text, doc, limits, yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = getattr(exc, "problem", None) or str(exc)
        said = say(
            "yaml-syntax/parser", problem=messages.recognised(str(problem), _YAML_PROBLEMS, "yaml/other")
        )
        doc.problems.append(messages.problem(Location(path, line, column), "yaml-syntax", said))
        doc.value = None
    if doc.value is None and not doc.problems:
        doc.error((), "empty-file", say("empty-file/no-value"))
    return doc


#: libyaml's parser when PyYAML was built with it: the same events and marks as the pure
#: Python parser, about fifteen times faster, which the editor's compile-as-you-type needs.
_FAST_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _build(text: str, doc: Document, limits: Limits, loader: Any) -> None:
    stack: list[_Frame] = []
    anchors: dict[str, tuple[Any, int]] = {}
    anchor_starts: list[tuple[str, _Frame]] = []
    documents = 0
    total_nodes = 0
    aliases = 0
    root: list[Any] = []

    def place(value: Any, event: Any, size: int) -> Path | None:
        """Attach a finished value to its parent; returns its path (None for a key)."""
        nonlocal total_nodes
        total_nodes += size
        if total_nodes > limits.max_nodes:
            raise _LoadAbortedError(event, "too-large", say("too-large/nodes", limit=limits.max_nodes))
        if not stack:
            root.append(value)
            doc.value_marks.setdefault((), _mark(event))  # where the document starts
            return ()
        frame = stack[-1]
        frame.size += size
        if isinstance(frame.container, list):
            child = (*frame.path, len(frame.container))
            frame.container.append(value)
            doc.value_marks.setdefault(child, _mark(event))
            return child
        if frame.pending_key is None:
            if not isinstance(value, str | int | float | bool) or value is None:
                raise _LoadAbortedError(event, "bad-key", say("bad-key/plain-word"))
            key = str(value)
            if key in frame.container:
                line, col = _mark(event)
                doc.problems.append(
                    messages.problem(
                        Location(doc.path, line, col), "duplicate-key", say("duplicate-key/twice", key=key)
                    )
                )
            frame.pending_key = key
            doc.key_marks[(*frame.path, key)] = _mark(event)
            return None
        child = (*frame.path, frame.pending_key)
        frame.container[frame.pending_key] = value
        frame.pending_key = None
        doc.value_marks.setdefault(child, _mark(event))
        return child

    def check_tag(event: Any) -> None:
        tag = getattr(event, "tag", None)
        if tag is not None and tag not in _STANDARD_TAGS:
            raise _LoadAbortedError(event, "yaml-tag", say("yaml-tag/not-allowed", tag=tag))

    def child_path() -> Path:
        if not stack:
            return ()
        frame = stack[-1]
        if isinstance(frame.container, list):
            return (*frame.path, len(frame.container))
        return (*frame.path, frame.pending_key or "")

    try:
        for event in yaml.parse(text, Loader=loader):
            if isinstance(event, yaml.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    raise _LoadAbortedError(event, "multiple-documents", say("multiple-documents/one"))
            elif isinstance(event, yaml.ScalarEvent):
                check_tag(event)
                plain = event.implicit[0] and not event.style and event.tag is None  # libyaml: ""
                is_key = bool(stack) and isinstance(stack[-1].container, dict)
                is_key = is_key and stack[-1].pending_key is None
                try:
                    value = _plain_scalar(event.value) if plain and not is_key else event.value
                except _InvalidScalarError as exc:
                    line, col = _mark(event)
                    doc.problems.append(messages.problem(Location(doc.path, line, col), "bad-date", exc.text))
                    value = event.value
                if event.tag == "tag:yaml.org,2002:int" and not plain:
                    value = _plain_scalar(event.value)
                if event.anchor:
                    anchors[event.anchor] = (value, 1)
                place(value, event, 1)
            elif isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
                check_tag(event)
                if len(stack) >= limits.max_depth:
                    raise _LoadAbortedError(event, "too-deep", say("too-deep/levels", limit=limits.max_depth))
                path = child_path()
                container: dict[str, Any] | list[Any] = (
                    {} if isinstance(event, yaml.MappingStartEvent) else []
                )
                if stack and isinstance(stack[-1].container, dict) and stack[-1].pending_key is None:
                    raise _LoadAbortedError(event, "bad-key", say("bad-key/plain-word"))
                frame = _Frame(container, path)
                doc.value_marks.setdefault(path, _mark(event))
                if event.anchor:
                    anchor_starts.append((event.anchor, frame))
                stack.append(frame)
            elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
                frame = stack.pop()
                if anchor_starts and anchor_starts[-1][1] is frame:
                    name, _ = anchor_starts.pop()
                    anchors[name] = (frame.container, frame.size)
                # the frame's own nodes were counted as they arrived; count the frame itself
                place(frame.container, event, 1)
                if stack:
                    stack[-1].size += frame.size - 1
            elif isinstance(event, yaml.AliasEvent):
                aliases += 1
                if aliases > limits.max_aliases:
                    said = say("too-many-aliases/limit", limit=limits.max_aliases)
                    raise _LoadAbortedError(event, "too-many-aliases", said)
                if event.anchor not in anchors:
                    raise _LoadAbortedError(
                        event, "yaml-syntax", say("yaml-syntax/unknown-alias", anchor=event.anchor)
                    )
                value, size = anchors[event.anchor]
                place(value, event, size)
    except _LoadAbortedError as abort:
        line, col = _mark(abort.event)
        doc.problems.append(messages.problem(Location(doc.path, line, col), abort.code, abort.text))
        doc.value = None
        return
    doc.value = root[0] if root else None


class _LoadAbortedError(Exception):
    """Stops loading at the first structural limit; the document is unusable after it."""

    def __init__(self, event: Any, code: str, text: Text) -> None:
        super().__init__(messages.english(text))
        self.event = event
        self.code = code
        self.text = text
