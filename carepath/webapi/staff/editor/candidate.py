"""The libraries the preview and the review's impact panel run: the hospital's current one,
and a candidate with one draft or in-review version in place of the published text.

A pathway version is compiled beside the hospital's other current pathways (as the review
checks it) and becomes current in a copy of the hospital's library that shares every other
compiled pathway; the published versions stay loaded for the enrolments pinned to them. A
content item version replaces that item in the content the messages are rendered with.
Candidates are cached by the version's text hash, so a preview re-run compiles nothing.
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from carepath.engine.compiler import Unit, compile_units
from carepath.engine.content import ContentItem, parse_content_item
from carepath.engine.facts import Event, Facts
from carepath.engine.forms import make_scorer, make_tagger
from carepath.engine.library import Library
from carepath.engine.preview import demo_persona
from carepath.engine.runtime import Settings
from carepath.errors import CarepathError, Location, Problem
from carepath.store import authoring, pathways, publishing
from carepath.store.library_files import display_path
from carepath.store.models import DocumentVersion, LibraryDocument

#: The synthetic demo patients of the repository (``PREVIEW_PATIENTS`` overrides).
DEMO_PATIENTS = Path(__file__).resolve().parents[4] / "examples" / "patients"
_CACHE_SIZE = 8
#: (version id, text hash) -> (the base library it was built on, the candidate library)
_cache: OrderedDict[tuple[int, str], tuple[Library, Library]] = OrderedDict()
_lock = threading.Lock()


@functools.cache
def engine_settings() -> Settings:
    """One per process: the scorer reads every form."""
    return Settings(scorer=make_scorer(), tagger=make_tagger())


@dataclass(frozen=True)
class Candidate:
    """What a version changes: the base library and content, and the candidate's."""

    document: LibraryDocument
    version: DocumentVersion
    base: Library
    library: Library
    content: Mapping[str, ContentItem]
    problems: tuple[Problem, ...] = ()  # the version does not compile: nothing to run

    @property
    def label(self) -> str:
        return f"{display_path(self.document.kind, self.document.name)} v{self.version.number}"


def candidate(session: Session, hospital_id: str, version: DocumentVersion) -> Candidate:
    """The candidate libraries of ``version`` (of ``hospital_id``, already looked up)."""
    document = authoring.document_of(session, version)
    base = pathways.library_for(session, hospital_id)
    content = publishing.content_items(session, hospital_id)
    if document.kind == "content":
        try:
            item = parse_content_item(version.source, f"{document.name}.md")
        except CarepathError as error:
            where = display_path(document.kind, document.name)
            return Candidate(document, version, base, base, content, tuple(_problems(error, where)))
        return Candidate(document, version, base, base, {**content, document.name: item})
    if document.kind != "pathway":  # a form changes scoring only: the timeline is the same
        return Candidate(document, version, base, base, content)
    key = (version.id, version.source_hash)
    with _lock:
        found = _cache.get(key)
    if found is not None and found[0] is base:  # the hospital's library has not changed since
        return Candidate(document, version, base, found[1], content)
    where = display_path(document.kind, document.name)
    others = pathways.current_sources(session, hospital_id)
    units = [Unit(where, version.source.encode("utf-8"))]
    units += [
        Unit(f"<{pid}>", text.encode("utf-8")) for pid, text in sorted(others.items()) if pid != document.name
    ]
    result = compile_units(units)
    errors = tuple(p for p in result.problems if p.severity == "error" and p.location.path == where)
    compiled = [p for p in result.pathways if p.source == where]
    if errors or not compiled:
        return Candidate(document, version, base, base, content, errors or tuple(result.errors))
    library = base.subset({p.id for p in base.versions()} | set(base.current))
    library.add(compiled[0])
    with _lock:
        _cache[key] = (base, library)
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return Candidate(document, version, base, library, content)


def _problems(error: CarepathError, where: str) -> list[Problem]:
    found = getattr(error, "problems", None)
    return list(found) if found else [Problem(Location(where), error.code, str(error), text=error.text)]


def demo_patients(folder: Path | None = None) -> dict[str, Path]:
    """Demo patient name (file stem) -> file; empty when the folder is not there."""
    folder = folder or DEMO_PATIENTS
    if not folder.is_dir():
        return {}
    return {path.stem: path for path in sorted(folder.glob("*.yaml"))}


@functools.cache
def _demo(path: Path) -> tuple[Facts, tuple[Event, ...]]:
    facts, events = demo_persona(path)
    return facts, tuple(events)


def demo(path: Path) -> tuple[Facts, tuple[Event, ...]]:
    """A demo patient's facts and events (read once per process)."""
    return _demo(path)
