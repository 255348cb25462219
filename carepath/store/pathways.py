"""Pathway versions: stored as YAML text, compiled once per process, shared by evaluations.

A published version is immutable (its ``version`` is the compiler's content hash). The
library of a hospital is the built-in versions (``hospital_id`` None) plus its own; the
newest published version of each pathway is current (a hospital's own published version of a
pathway always before the built-in one: a newer shipped library never replaces a hospital's
copy silently), older published or retired versions stay loaded for the enrolments pinned to
them. ``move_enrolments`` moves the women already enrolled to a new version when its
publisher chooses so.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from carepath.engine.catalogue import load_catalogue
from carepath.engine.compiler import CompileResult, Unit, compile_units
from carepath.engine.library import Library
from carepath.engine.runtime import State
from carepath.errors import CompileError, EvaluationError
from carepath.store import state_codec
from carepath.store.models import EnrolmentRecord, PathwayVersion, Pregnancy

LOADED_STATUSES = ("published", "retired")

_cache: dict[tuple[object, ...], Library] = {}
_cache_lock = threading.Lock()
#: How long a hospital's library is used before its versions are looked up again. A version
#: published (or retired) takes effect in each process within this many seconds.
RECHECK_SECONDS = 5.0
#: (database, hospital) -> when its versions were last looked up, and its library. The database
#: is part of the key: a process with two databases (the tests' servers, a tool comparing two)
#: must never evaluate one's pregnancies against the other's hospital of the same id.
_checked: dict[tuple[str, str], tuple[float, Library]] = {}


#: Compilations of the same texts against the same catalogue, kept per process: publishing the
#: same library again (every demo setup, a test's fresh database, an adopted release) compiles
#: nothing. A compilation is pure and its result immutable, so a hit is the very same answer.
_COMPILED_MAX = 32
_compiled_cache: dict[tuple[object, ...], CompileResult] = {}


def _compiled(named_texts: tuple[tuple[str, str], ...]) -> CompileResult:
    catalogue = load_catalogue()
    key = (id(catalogue), named_texts)
    with _cache_lock:
        hit = _compiled_cache.get(key)
    if hit is not None:
        return hit
    result = compile_units([Unit(name, text.encode("utf-8")) for name, text in named_texts], catalogue)
    with _cache_lock:
        if len(_compiled_cache) >= _COMPILED_MAX:
            _compiled_cache.pop(next(iter(_compiled_cache)))  # the oldest
        _compiled_cache[key] = result
    return result


def publish(
    session: Session,
    sources: dict[str, str],
    now: datetime,
    *,
    hospital_id: str | None = None,
    author: str = "system",
    reviewer: str | None = "system",
    context: dict[str, str] | None = None,
) -> list[PathwayVersion]:
    """Compile ``sources`` (name -> YAML text) together and publish each new version.

    ``context`` (pathway id -> YAML) are other pathways compiled beside them, not published
    (the hospital's current ones: tags they declare resolve). Raises CompileError with every
    problem if any file fails; a version already stored is left as it is (publishing the
    same text twice is harmless).
    """
    others = [(f"<{pid}>", text) for pid, text in sorted((context or {}).items())]
    result = _compiled((*sources.items(), *others))
    if not result.ok:
        raise CompileError(list(result.errors))
    by_path = {p.source: p for p in result.pathways if p.source in sources}
    rows = []
    for name, pathway in by_path.items():
        existing = session.scalar(
            select(PathwayVersion).where(
                PathwayVersion.hospital_id.is_(None)
                if hospital_id is None
                else PathwayVersion.hospital_id == hospital_id,
                PathwayVersion.pathway_id == pathway.id,
                PathwayVersion.version == pathway.version,
            )
        )
        if existing is not None:
            rows.append(existing)
            continue
        row = PathwayVersion(
            hospital_id=hospital_id,
            pathway_id=pathway.id,
            version=pathway.version,
            title=pathway.title,
            source=sources[name],
            status="published",
            author=author,
            reviewer=reviewer,
            created_at=now,
            published_at=now,
        )
        session.add(row)
        rows.append(row)
    session.flush()
    return rows


def library_for(session: Session, hospital_id: str, *, fresh: bool = False) -> Library:
    """The compiled library of ``hospital_id``, rebuilt only when its versions change.

    The versions are looked up at most every ``RECHECK_SECONDS`` per process (``fresh``
    forces it): one query saved on nearly every event.
    """
    key = (str(session.get_bind().engine.url), hospital_id)
    with _cache_lock:
        checked = _checked.get(key)
    if checked is not None and not fresh and time.monotonic() - checked[0] < RECHECK_SECONDS:
        return checked[1]
    library = _library_for(session, hospital_id)
    with _cache_lock:
        _checked[key] = (time.monotonic(), library)
    return library


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()
        _checked.clear()


def _loaded_rows(session: Session, hospital_id: str) -> list[Any]:
    return list(
        session.execute(
            select(
                PathwayVersion.id,
                PathwayVersion.hospital_id,
                PathwayVersion.pathway_id,
                PathwayVersion.version,
                PathwayVersion.status,
                PathwayVersion.published_at,
            )
            .where(
                or_(PathwayVersion.hospital_id.is_(None), PathwayVersion.hospital_id == hospital_id),
                PathwayVersion.status.in_(LOADED_STATUSES),
            )
            .order_by(PathwayVersion.id)
        ).all()
    )


def _current_ids(rows: Sequence[Any]) -> set[int]:
    """The row of each pathway that new enrolments take: the hospital's own newest published
    version, else the newest published built-in one."""
    newest: dict[str, tuple[bool, float, int]] = {}
    for r in rows:
        if r.status == "published":
            rank = (r.hospital_id is not None, r.published_at.timestamp() if r.published_at else 0.0, r.id)
            newest[r.pathway_id] = max(newest.get(r.pathway_id, rank), rank)
    return {rank[2] for rank in newest.values()}


def current_sources(session: Session, hospital_id: str) -> dict[str, str]:
    """Pathway id -> the YAML of the version new enrolments of ``hospital_id`` take."""
    ids = _current_ids(_loaded_rows(session, hospital_id))
    return {
        pathway_id: source
        for pathway_id, source in session.execute(
            select(PathwayVersion.pathway_id, PathwayVersion.source).where(PathwayVersion.id.in_(ids))
        )
    }


def covering(session: Session, hospital_id: str, library: Library, state: State) -> Library:
    """``library``, or a fresh one when it lacks a version one of her enrolments is pinned to
    (the enrolment was just moved to a version this process has not loaded yet)."""
    for enrolment in state.enrolments:
        if enrolment.active:
            try:
                library.loaded(enrolment.pathway_id, enrolment.version)
            except EvaluationError:
                return library_for(session, hospital_id, fresh=True)
    return library


def move_enrolments(session: Session, hospital_id: str, pathway_id: str, version: str, now: datetime) -> int:
    """Move every active enrolment of ``hospital_id`` on ``pathway_id`` to ``version``.

    Her State (what the evaluation reads) and the enrolment rows change together, under the
    pregnancy's row lock; her next wake-up is now, so the new version's timed rules are
    looked at from her last evaluation on. Actions already decided stay as they are (their
    dedupe keys name the old version; nothing is sent twice). Returns how many moved.
    """
    moving = (
        select(EnrolmentRecord.pregnancy_id)
        .where(
            EnrolmentRecord.hospital_id == hospital_id,
            EnrolmentRecord.pathway_id == pathway_id,
            EnrolmentRecord.ended_at.is_(None),
            EnrolmentRecord.version != version,
        )
        .scalar_subquery()
    )
    rows = session.execute(
        select(Pregnancy.id, Pregnancy.state, Pregnancy.next_wakeup)
        .where(Pregnancy.id.in_(moving))
        .order_by(Pregnancy.id)
        .with_for_update()
    ).all()
    changes: list[dict[str, Any]] = []
    moved: list[str] = []
    for row in rows:
        state, ids = state_codec.move_enrolments(row.state, pathway_id, version)
        if not ids:
            continue
        wakeup = row.next_wakeup if row.next_wakeup is not None and row.next_wakeup <= now else now
        changes.append({"id": row.id, "state": state, "updated_at": now, "next_wakeup": wakeup})
        moved += ids
    if changes:
        session.execute(update(Pregnancy), changes)  # one executemany, by primary key
    for start in range(0, len(moved), 500):
        session.execute(
            update(EnrolmentRecord)
            .where(EnrolmentRecord.id.in_(moved[start : start + 500]))
            .values(version=version)
            .execution_options(synchronize_session=False)
        )
    return len(moved)


def _library_for(session: Session, hospital_id: str) -> Library:
    rows = _loaded_rows(session, hospital_id)
    current_ids = _current_ids(rows)
    # Row ids are only unique within one database: the key names the database too (a process
    # with two — tests, a migration tool — must never take one's library for the other's).
    key = (
        session.get_bind().engine.url.render_as_string(hide_password=True),
        tuple((r.id, r.pathway_id, r.version, r.status, r.id in current_ids) for r in rows),
    )
    with _cache_lock:
        cached = _cache.get(key)
    if cached is not None:
        return cached
    sources: dict[int, str] = {
        row_id: source
        for row_id, source in session.execute(
            select(PathwayVersion.id, PathwayVersion.source).where(
                PathwayVersion.id.in_([r.id for r in rows])
            )
        )
    }
    current = [r for r in rows if r.id in current_ids]

    def unit(r: Any) -> Unit:
        return Unit(f"{r.pathway_id}@{r.version}", sources[r.id].encode("utf-8"))

    library = Library([])
    for pathway in compile_units([unit(r) for r in current]).pathways:
        library.add(pathway)
    for r in rows:
        if r.id in current_ids:
            continue
        # An older version compiles beside the other pathways' current versions (shared tags).
        others = [unit(c) for c in current if c.pathway_id != r.pathway_id]
        for pathway in compile_units([unit(r), *others]).pathways:
            if (pathway.id, pathway.version) == (r.pathway_id, r.version):
                library.add(pathway, current=False)
    with _cache_lock:
        _cache[key] = library
    return library


def list_versions(session: Session, hospital_id: str) -> list[dict[str, Any]]:
    """Every pathway the hospital's library holds, with its versions, built-in and its own.

    ``current`` marks the version new enrolments start on (the hospital's own newest published
    version, else the newest built-in one), as ``library_for`` loads it. The YAML source is not listed.
    """
    rows = session.scalars(
        select(PathwayVersion)
        .where(or_(PathwayVersion.hospital_id.is_(None), PathwayVersion.hospital_id == hospital_id))
        .order_by(PathwayVersion.pathway_id, PathwayVersion.id)
    ).all()
    current_ids = _current_ids(rows)
    pathways: dict[str, dict[str, Any]] = {}
    for row in rows:
        entry = pathways.setdefault(
            row.pathway_id, {"id": row.pathway_id, "title": row.title, "versions": []}
        )
        if row.id in current_ids:
            entry["title"] = row.title
        entry["versions"].append(
            {
                "version": row.version,
                "origin": "built-in" if row.hospital_id is None else "hospital",
                "title": row.title,
                "status": row.status,
                "current": row.id in current_ids,
                "author": row.author,
                "reviewer": row.reviewer,
                "created_at": row.created_at.isoformat(),
                "published_at": row.published_at.isoformat() if row.published_at else None,
            }
        )
    return list(pathways.values())
