"""Pathway versions: stored as YAML text, compiled once per process, shared by evaluations.

A published version is immutable (its ``version`` is the compiler's content hash). The
library of a hospital is the built-in versions (``hospital_id`` None) plus its own; the
newest published version of each pathway is current, older published or retired versions
stay loaded for the enrolments pinned to them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from carepath.engine.compiler import Unit, compile_units
from carepath.engine.runtime import Library
from carepath.errors import CompileError
from carepath.store.models import PathwayVersion

LOADED_STATUSES = ("published", "retired")

_cache: dict[tuple[object, ...], Library] = {}
_cache_lock = threading.Lock()
#: How long a hospital's library is used before its versions are looked up again. A version
#: published (or retired) takes effect in each process within this many seconds.
RECHECK_SECONDS = 5.0
_checked: dict[str, tuple[float, Library]] = {}


def publish(
    session: Session,
    sources: dict[str, str],
    now: datetime,
    *,
    hospital_id: str | None = None,
    author: str = "system",
    reviewer: str | None = "system",
) -> list[PathwayVersion]:
    """Compile ``sources`` (name -> YAML text) together and publish each new version.

    Raises CompileError with every problem if any file fails; a version already stored is
    left as it is (publishing the same text twice is harmless).
    """
    result = compile_units([Unit(name, text.encode("utf-8")) for name, text in sources.items()])
    if not result.ok:
        raise CompileError(list(result.errors))
    by_path = dict(zip(sources, result.pathways, strict=True))
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
    with _cache_lock:
        checked = _checked.get(hospital_id)
    if checked is not None and not fresh and time.monotonic() - checked[0] < RECHECK_SECONDS:
        return checked[1]
    library = _library_for(session, hospital_id)
    with _cache_lock:
        _checked[hospital_id] = (time.monotonic(), library)
    return library


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()
        _checked.clear()


def _library_for(session: Session, hospital_id: str) -> Library:
    rows = session.execute(
        select(
            PathwayVersion.id,
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
    key = tuple((r.id, r.status) for r in rows)
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
    current_ids = _current_ids(rows)
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


def _current_ids(rows: Sequence[Any]) -> set[int]:
    """Row ids of each pathway's current version: its newest published one."""
    newest: dict[str, tuple[datetime | None, int]] = {}
    for r in rows:
        if r.status == "published":
            newest[r.pathway_id] = max(
                newest.get(r.pathway_id, (None, -1)), (r.published_at, r.id), key=_order
            )
    return {v[1] for v in newest.values()}


def _order(item: tuple[datetime | None, int]) -> tuple[float, int]:
    at, row_id = item
    return (at.timestamp() if at else 0.0, row_id)


def list_versions(session: Session, hospital_id: str) -> list[dict[str, Any]]:
    """Every pathway the hospital's library holds, with its versions, built-in and its own.

    ``current`` marks the version new enrolments start on: the newest published one, as
    ``library_for`` loads it. The YAML source is not listed.
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
