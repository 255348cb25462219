"""The shipped library as documents: pathways, content items and forms, by kind and name.

A hospital's copy of a document is checked here the way the CLI checks the files: a pathway
is compiled beside the hospital's other current pathways, a content item or form goes
through the content lint (``sensitive-summary`` included). ``stamp_review`` writes the real
reviewers into the ``review:`` field of a content item or form when it is published.
"""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from carepath.engine.catalogue import PATHWAYS_DIR
from carepath.engine.compiler import Unit, compile_units
from carepath.engine.content import CONTENT_DIRECTORY
from carepath.engine.content_lint import lint_paths
from carepath.engine.forms import FORMS_DIRECTORY
from carepath.engine.messages import problem, say
from carepath.errors import Location, Problem

KINDS = ("pathway", "content", "form")
SUFFIX = {"pathway": ".yaml", "content": ".md", "form": ".yaml"}
#: Files of the shipped directories that are not documents of their kind.
NOT_DOCUMENTS = frozenset({"tags.yaml", "labs.yaml", "sensitive_terms.yaml", "sources.yaml"})
NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
#: A draft larger than this is refused (a huge paste), long before the YAML loader's limits.
MAX_SOURCE_BYTES = 256 * 1024
_TITLE = re.compile(r"^title:\s*(.+?)\s*$", re.MULTILINE)


@dataclass(frozen=True)
class Shipped:
    """Where the shipped library lives (tests point it at a copy they can change)."""

    directories: Mapping[str, Path] = field(
        default_factory=lambda: {
            "pathway": PATHWAYS_DIR,
            "content": CONTENT_DIRECTORY,
            "form": FORMS_DIRECTORY,
        }
    )

    def path(self, kind: str, name: str) -> Path:
        return self.directories[kind] / f"{name}{SUFFIX[kind]}"

    def names(self, kind: str) -> list[str]:
        suffix = SUFFIX[kind]
        return sorted(
            p.name[: -len(suffix)]
            for p in self.directories[kind].glob(f"*{suffix}")
            if p.name not in NOT_DOCUMENTS
        )

    def text(self, kind: str, name: str) -> str | None:
        """The shipped text of a document, or None when carepath ships no such document."""
        if kind not in KINDS or not NAME.match(name):
            return None
        path = self.path(kind, name)
        return path.read_text(encoding="utf-8") if path.is_file() else None


SHIPPED = Shipped()


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def title_of(text: str) -> str:
    """The ``title:`` of a document's top level or front matter, for lists (no full parse)."""
    found = _TITLE.search(text)
    return found.group(1).strip("\"'") if found else ""


def display_path(kind: str, name: str) -> str:
    """The path problems are located at: what the editor shows as the file name."""
    return f"{kind}/{name}{SUFFIX[kind]}"


def check(kind: str, name: str, text: str, other_pathways: Mapping[str, str] | None = None) -> list[Problem]:
    """Every error of ``text`` as the document ``kind``/``name``, located; empty when it is good.

    ``other_pathways`` (pathway id -> source) are the hospital's other current pathways: a
    pathway compiles beside them, so that shared tags and ``enroll`` targets resolve.
    """
    where = display_path(kind, name)
    if len(text.encode("utf-8")) > MAX_SOURCE_BYTES:
        return [problem(Location(where), "too-large", say("too-large/document", kb=MAX_SOURCE_BYTES // 1024))]
    if kind == "pathway":
        problems = _check_pathway(name, text, where, other_pathways or {})
    else:
        problems = _lint(kind, name, text, where)
    return [p for p in problems if p.severity == "error"]


def _check_pathway(name: str, text: str, where: str, others: Mapping[str, str]) -> list[Problem]:
    units = [Unit(where, text.encode("utf-8"))]
    for pathway_id, source in sorted(others.items()):
        if pathway_id != name:
            units.append(Unit(f"<{pathway_id}>", source.encode("utf-8")))
    result = compile_units(units)
    problems = [p for p in result.problems if p.location.path == where]
    compiled = [p for p in result.pathways if p.source == where]
    if compiled and compiled[0].id != name:
        said = say("name-mismatch/pathway", name=name, compiled=compiled[0].id)
        problems.append(problem(Location(where), "name-mismatch", said))
    return problems


def _lint(kind: str, name: str, text: str, where: str) -> list[Problem]:
    """The content lint on the text, exactly as ``carepath content lint`` runs it on a file."""
    with tempfile.TemporaryDirectory(prefix="carepath-doc-") as folder:
        path = Path(folder) / f"{name}{SUFFIX[kind]}"
        path.write_text(text, encoding="utf-8")
        report = lint_paths([path])
    return [replace(p, location=replace(p.location, path=where)) for p in report.problems]


def stamp_review(kind: str, text: str, reviewers: Sequence[str], at: datetime) -> str:
    """``text`` with its ``review:`` field saying approved by ``reviewers`` at ``at``.

    Only the real reviewers of the approving round are written; whatever the draft said
    (even a hand-typed "approved") is replaced. Pathways have no such field.
    """
    if kind == "pathway":
        return text
    stamp = (
        f"review: {{status: approved, by: {json.dumps(', '.join(reviewers), ensure_ascii=False)}, "
        f"at: {json.dumps(at.isoformat(timespec='seconds'))}}}"
    )
    return _replace_review(kind, text, stamp, insert=True)


def reset_review(kind: str, text: str) -> str:
    """A new draft of an approved item is a draft again until someone approves it."""
    if kind == "pathway":
        return text
    return _replace_review(kind, text, "review: {status: draft}", insert=False)


def _replace_review(kind: str, text: str, line: str, *, insert: bool) -> str:
    lines = text.split("\n")
    start, end = 0, len(lines)
    if kind == "content":  # the field lives in the front matter, between the first two fences
        fences = [i for i, row in enumerate(lines) if row.strip() == "---"][:2]
        if len(fences) < 2:
            return text  # no front matter: the check reports it
        start, end = fences[0] + 1, fences[1]
    for i in range(start, end):
        if lines[i].startswith("review:"):
            j = i + 1
            while j < end and lines[j][:1] in (" ", "\t") and lines[j].strip():
                j += 1  # a block-style mapping continues on indented lines
            return "\n".join([*lines[:i], line, *lines[j:]])
    return "\n".join([*lines[:end], line, *lines[end:]]) if insert else text
