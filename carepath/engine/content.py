"""Education content items: Markdown files with YAML front matter, parsed into frozen specs.

An item is ``carepath/content/<key>.md``::

    ---
    key: week-24
    title: 孕24周
    summary: "{{ first_name }}，您本周的健康小课堂已更新，点开看看吧。"
    audience: {weeks: [24, 24]}
    sensitive: false
    sources: [CMA2018]
    review: {status: draft}
    ---
    ## 宝宝这一周
    ...

The ``summary`` is all an external channel (WeChat, SMS) ever carries, so it must stay
neutral; ``sensitive`` says whether the body names a condition, a result or a drug;
``celebrates`` (optional, default false) that it congratulates her — the lint requires it of
any item whose text says 恭喜 or 祝贺, and a lost baby withdraws such items. The kind
of an item, and so the sections its body must have, follows from its key (``KIND_SECTIONS``).
Items link to each other with Markdown links whose target is ``content:<key>``.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import jsonschema

from carepath.engine.loader import load_yaml
from carepath.engine.messages import problem, say
from carepath.engine.schema_check import jsonschema_words
from carepath.errors import CompileError, Location, Problem

CONTENT_DIRECTORY = Path(__file__).resolve().parent.parent / "content"
_SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schemas" / "content.schema.json"

#: The high-risk conditions of the built-in library: the eight of docs/domain.md §4 and
#: pre-existing diabetes (issue 17 item 5).
CONDITION_KEYS = (
    "scarred-uterus",
    "gdm",
    "placenta-previa",
    "hypertension",
    "multiple-pregnancy",
    "advanced-maternal-age",
    "anaemia",
    "cholestasis",
    "pregestational-diabetes",
)

#: Required second-level headings per kind, in the order they must appear.
KIND_SECTIONS: Mapping[str, tuple[str, ...]] = {
    "weekly": ("宝宝这一周", "妈妈这一周", "这周可以做的事"),
    "visit": ("这次检查什么", "怎样准备"),
    "condition": ("这是什么", "需要留意什么", "什么时候立即就医"),
    "topic": (),
}

#: Markdown link target that points at another item: ``[孕24周](content:week-24)``.
CONTENT_LINK = re.compile(r"\]\(content:([^)\s]*)\)")

_WEEKLY_KEY = re.compile(r"^week-(\d{2})$")
_VISIT_KEY = re.compile(r"^visit-(\d+)$")
_FRONT_MATTER_FENCE = "---"


@dataclass(frozen=True)
class ContentItem:
    """One parsed education item; immutable and shared by every patient it is pushed to."""

    key: str
    title: str
    summary: str
    body: str
    audience: Mapping[str, Any]
    sensitive: bool
    sources: tuple[str, ...]
    review: Mapping[str, Any]
    path: str
    body_line: int = 1
    field_lines: Mapping[str, int] = field(default_factory=dict)
    #: It congratulates her (恭喜, 祝贺): once a baby of hers is lost it is withdrawn from her
    #: inbox and its unsent notices are cancelled (``store/congratulations.py``).
    celebrates: bool = False

    @property
    def kind(self) -> str:
        """``weekly``, ``visit``, ``condition`` or ``topic``, from the key."""
        return content_kind(self.key)

    @property
    def review_status(self) -> str:
        return str(self.review.get("status", "draft"))

    @property
    def safety_advice(self) -> bool:
        """The review marks it safety advice: a pathway may send it as ``urgent``."""
        return self.review.get("safety_advice") is True

    @property
    def links(self) -> tuple[tuple[str, int, int], ...]:
        """Every ``content:`` link in the body as (target key, line, column)."""
        found: list[tuple[str, int, int]] = []
        for offset, line in enumerate(self.body.splitlines()):
            for match in CONTENT_LINK.finditer(line):
                found.append((match.group(1), self.body_line + offset, match.start(1) + 1))
        return tuple(found)

    def line_of(self, field_name: str) -> int:
        """The line of a front-matter field, or of the opening fence if it is absent."""
        return self.field_lines.get(field_name, 1)


def freeze(value: Any) -> Any:
    """Read-only copy of parsed YAML: mappings become proxies, lists tuples (specs are shared)."""
    if isinstance(value, dict):
        return MappingProxyType({key: freeze(item) for key, item in value.items()})
    if isinstance(value, list):
        return tuple(freeze(item) for item in value)
    return value


def content_kind(key: str) -> str:
    """Classify a key: the kind decides which sections the body needs."""
    if _WEEKLY_KEY.match(key):
        return "weekly"
    if _VISIT_KEY.match(key):
        return "visit"
    if key in CONDITION_KEYS:
        return "condition"
    return "topic"


@functools.cache
def _validator() -> jsonschema.Draft202012Validator:
    """Built once: checking the schema itself is the slow part of loading the library."""
    schema: dict[str, Any] = json.loads(_SCHEMA_PATH.read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


def _split_front_matter(text: str, path: str) -> tuple[str, str, int]:
    """Return (front matter, body, body's first line); raise CompileError if absent."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != _FRONT_MATTER_FENCE:
        raise CompileError(
            [problem(Location(path), "missing-front-matter", say("missing-front-matter/start"))]
        )
    for index in range(1, len(lines)):
        if lines[index].strip() == _FRONT_MATTER_FENCE:
            return "\n".join(lines[1:index]), "\n".join(lines[index + 1 :]), index + 2
    raise CompileError([problem(Location(path), "missing-front-matter", say("missing-front-matter/close"))])


def parse_content_item(text: str, path: str | Path) -> ContentItem:
    """Parse one item; every structural problem is raised at once as a located CompileError."""
    where = str(path)
    front_text, body, body_line = _split_front_matter(text.removeprefix("\ufeff"), where)
    # A blank first line stands for the opening fence, so that positions are file positions.
    doc = load_yaml(("\n" + front_text).encode("utf-8"), where)
    if doc.problems:
        raise CompileError(
            [
                problem(
                    p.location, "bad-front-matter", say("bad-front-matter/inner", code=p.code, problem=p.text)
                )
                if p.text is not None
                else Problem(p.location, "bad-front-matter", f"{p.code}: {p.message}")
                for p in doc.problems
            ]
        )
    front = doc.value
    if not isinstance(front, dict):
        raise CompileError([problem(Location(where, 2), "bad-front-matter", say("bad-front-matter/mapping"))])
    lines = {str(key[0]): line for key, (line, _) in doc.key_marks.items() if len(key) == 1}
    problems = [
        _schema_problem(error, where, lines) for error in sorted(_validator().iter_errors(front), key=str)
    ]
    if problems:
        raise CompileError(problems)
    return ContentItem(
        key=front["key"],
        title=front["title"],
        summary=front["summary"],
        body=body,
        audience=freeze(front["audience"]),
        sensitive=front["sensitive"],
        sources=tuple(front["sources"]),
        review=freeze(front["review"]),
        path=where,
        body_line=body_line,
        field_lines=MappingProxyType(lines),
        celebrates=front.get("celebrates", False),
    )


def _schema_problem(error: jsonschema.ValidationError, path: str, lines: Mapping[str, int]) -> Problem:
    top = str(error.absolute_path[0]) if error.absolute_path else None
    if top is None and error.validator == "required":
        return problem(Location(path, 1), "content-schema", jsonschema_words(error.message))
    line = lines.get(top, 1) if top is not None else 1
    field_path = ".".join(str(part) for part in error.absolute_path)
    text = say("content-schema/field", field=field_path, detail=jsonschema_words(error.message))
    return problem(Location(path, line), "content-schema", text)


def read_text_file(path: Path) -> str:
    """Read UTF-8 text or raise a located CompileError (missing file, bad encoding)."""
    try:
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise CompileError([problem(Location(str(path)), "missing-file", say("missing-file/none"))]) from None
    except UnicodeDecodeError as exc:
        text = say("bad-encoding/byte", byte=exc.start)
        raise CompileError([problem(Location(str(path)), "bad-encoding", text)]) from None
    except OSError as exc:
        text = say("unreadable/os", reason=exc.strerror or "")
        raise CompileError([problem(Location(str(path)), "unreadable", text)]) from None


def load_content_library(directory: str | Path | None = None) -> dict[str, ContentItem]:
    """Load every ``*.md`` item of a directory (default: the built-in library) by key.

    Raises CompileError with every problem of every file, so a caller sees them all at once.
    """
    root = Path(directory) if directory is not None else CONTENT_DIRECTORY
    library: dict[str, ContentItem] = {}
    problems: list[Problem] = []
    for path in sorted(root.glob("*.md")):
        try:
            item = parse_content_item(read_text_file(path), path)
        except CompileError as exc:
            problems.extend(exc.problems)
            continue
        if item.key in library:
            text = say("duplicate-key/content", key=item.key)
            problems.append(problem(Location(str(path), item.line_of("key")), "duplicate-key", text))
        library[item.key] = item
    if problems:
        raise CompileError(problems)
    return library
