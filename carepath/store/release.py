"""A release of the shipped library and what adopting it means for one hospital (issue 17
item 14): the corrections must reach the women already enrolled.

Enrolments are pinned to the version they started on, and a hospital adopts shipped changes
through the upstream review (``upstream.py``). A release manifest beside the shipped pathways
(``pathways/release/release.yaml``) names the release, says whether it is safety-relevant and,
in Chinese, what changed and why. For one hospital the release is *pending* while

- a pathway of the release that the hospital runs as shipped (it has no published copy of its
  own) is not yet current as the release ships it, or some of its active enrolments are still on
  another version: **adopting** publishes the shipped text as the built-in version (the same for
  every hospital that has no copy: what shipping means; idempotent) and moves the hospital's
  enrolments to it, as the editor's publish-with-migrate does (``pathways.move_enrolments``);
- a document of the release that the hospital has its own copy of has a newer shipped text:
  that goes through the hospital's review like any upstream change (adopt as a draft, review,
  publish choosing "move"); nothing here replaces a hospital's copy.

The cohort impact of adopting is the editor's (``engine/impact.py``): every pregnancy of the
hospital in care now, from its stored state, pinned against migrated, over the next weeks.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from carepath.engine.compiler import Unit, compile_units
from carepath.engine.dependencies import closure, footprint
from carepath.engine.impact import CohortImpact, Enrolled, Plan, changed_pathways, impact_json, in_care
from carepath.engine.library import Library
from carepath.engine.runtime import Settings
from carepath.engine.spec import Pathway
from carepath.errors import CarepathError
from carepath.store import pathways, state_codec
from carepath.store.library_files import KINDS, SHIPPED, Shipped, text_hash
from carepath.store.models import EnrolmentRecord, PathwayVersion, Pregnancy
from carepath.store.scope import Actor, audit
from carepath.store.upstream import UpstreamChange, changes

#: Where the manifest lives, under the shipped pathways' directory (a sub-directory, so that
#: nothing that reads ``pathways/*.yaml`` as pathways ever sees it).
RELEASE_FILE = Path("release") / "release.yaml"
CHUNK = 500  # stored states read at a time for the cohort impact


class ReleaseError(CarepathError):
    """The release manifest is missing a field or names something that is not shipped."""

    code = "bad-release"


@dataclass(frozen=True)
class ReleaseChange:
    kind: str  # pathway, content or form
    name: str
    why: str  # Chinese, for the hospital's staff


@dataclass(frozen=True)
class Release:
    version: str
    safety: bool
    summary: str  # Chinese: what changed and why
    changes: tuple[ReleaseChange, ...]

    def names(self, kind: str) -> list[str]:
        return [c.name for c in self.changes if c.kind == kind]


def load_release(shipped: Shipped = SHIPPED) -> Release | None:
    """The manifest of the shipped library, or None when it ships none."""
    path = shipped.directories["pathway"] / RELEASE_FILE
    if not path.exists():
        return None
    where = str(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ReleaseError(f"{where}: not YAML: {error}") from None
    if not isinstance(data, dict):
        raise ReleaseError(f"{where}: a mapping with version, safety, summary and changes")
    version, safety, summary = data.get("version"), data.get("safety"), data.get("summary")
    if not isinstance(version, str) or not version.strip():
        raise ReleaseError(f"{where}: version: a non-empty text")
    if not isinstance(safety, bool):
        raise ReleaseError(f"{where}: safety: true or false")
    if not isinstance(summary, str) or not summary.strip():
        raise ReleaseError(f"{where}: summary: a non-empty text (Chinese)")
    found = []
    for index, entry in enumerate(data.get("changes") or []):
        at = f"{where}: changes[{index}]"
        if not isinstance(entry, dict) or entry.get("kind") not in KINDS:
            raise ReleaseError(f"{at}: kind: one of {', '.join(KINDS)}")
        name, why = entry.get("name"), entry.get("why")
        if not isinstance(name, str) or shipped.text(entry["kind"], name) is None:
            raise ReleaseError(f"{at}: name: {name!r} is not a shipped {entry['kind']}")
        if not isinstance(why, str) or not why.strip():
            raise ReleaseError(f"{at}: why: a non-empty text (Chinese)")
        found.append(ReleaseChange(entry["kind"], name, why.strip()))
    if not found:
        raise ReleaseError(f"{where}: changes: at least one")
    return Release(version.strip(), safety, summary.strip(), tuple(found))


@dataclass(frozen=True)
class Pending:
    """What the release still asks of one hospital."""

    release: Release
    builtin: Mapping[str, str]  # pathway id -> shipped text to publish and move her women to
    versions: Mapping[str, str]  # pathway id -> the engine version of that text
    pinned: Mapping[str, int]  # pathway id -> active enrolments on another version than it
    own: tuple[UpstreamChange, ...]  # the hospital's copies with a newer shipped text: review

    @property
    def open(self) -> bool:
        return bool(self.builtin or self.own)

    @property
    def enrolments_to_move(self) -> int:
        return sum(self.pinned.values())


def _own_pathways(session: Session, hospital_id: str) -> set[str]:
    """Pathways the hospital has published its own version of: the release never replaces them."""
    return set(
        session.scalars(
            select(PathwayVersion.pathway_id).where(
                PathwayVersion.hospital_id == hospital_id, PathwayVersion.status == "published"
            )
        )
    )


#: (texts, context) hashes -> compiled: the upstream page asks on every load, and the texts
#: change only with a deployment or a publication (about 0.4 s saved each time).
_compiled: OrderedDict[tuple[tuple[str, str], ...], list[Pathway]] = OrderedDict()
_compiled_lock = threading.Lock()
_COMPILED_SIZE = 16


def _compile(session: Session, hospital_id: str, texts: Mapping[str, str]) -> list[Pathway]:
    """The shipped texts compiled beside the hospital's other current pathways (shared tags)."""
    if not texts:
        return []
    current = pathways.current_sources(session, hospital_id)
    others = {pid: text for pid, text in current.items() if pid not in texts}
    key = tuple(sorted((f"{n}.yaml", text_hash(t)) for n, t in texts.items())) + tuple(
        sorted((f"<{pid}>", text_hash(t)) for pid, t in others.items())
    )
    with _compiled_lock:
        found = _compiled.get(key)
    if found is not None:
        return found
    units = [Unit(f"{name}.yaml", text.encode("utf-8")) for name, text in sorted(texts.items())]
    units += [Unit(f"<{pid}>", text.encode("utf-8")) for pid, text in sorted(others.items())]
    result = compile_units(units)
    if not result.ok:
        listed = "; ".join(str(p) for p in result.errors[:5])
        raise ReleaseError(f"the shipped pathways do not compile beside the hospital's: {listed}")
    wanted = {f"{name}.yaml" for name in texts}
    compiled = [p for p in result.pathways if p.source in wanted]
    with _compiled_lock:
        _compiled[key] = compiled
        while len(_compiled) > _COMPILED_SIZE:
            _compiled.popitem(last=False)
    return compiled


def pending(session: Session, hospital_id: str, shipped: Shipped = SHIPPED) -> Pending | None:
    """What adopting the shipped release would still do for ``hospital_id`` (None: no manifest)."""
    release = load_release(shipped)
    if release is None:
        return None
    own = _own_pathways(session, hospital_id)
    texts = {
        name: text
        for name in release.names("pathway")
        if name not in own and (text := shipped.text("pathway", name)) is not None
    }
    versions = {p.id: p.version for p in _compile(session, hospital_id, texts)}
    current = pathways.library_for(session, hospital_id, fresh=True).current
    pinned = {
        pathway_id: session.scalar(
            select(func.count())
            .select_from(EnrolmentRecord)
            .where(
                EnrolmentRecord.hospital_id == hospital_id,
                EnrolmentRecord.pathway_id == pathway_id,
                EnrolmentRecord.ended_at.is_(None),
                EnrolmentRecord.version != version,
            )
        )
        or 0
        for pathway_id, version in versions.items()
    }
    builtin = {
        name: texts[name]
        for name, version in versions.items()
        if name not in current or current[name].version != version or pinned.get(name)
    }
    in_release = {(c.kind, c.name) for c in release.changes}
    review = tuple(c for c in changes(session, hospital_id, shipped) if (c.kind, c.name) in in_release)
    return Pending(
        release,
        builtin,
        {k: v for k, v in versions.items() if k in builtin},
        {k: v for k, v in pinned.items() if k in builtin and v},
        review,
    )


def libraries(session: Session, hospital_id: str, found: Pending) -> tuple[Library, Library]:
    """The hospital's library now, and the one adopting would give (the shipped texts current,
    every published version still loaded for the enrolments pinned to it)."""
    base = pathways.library_for(session, hospital_id, fresh=True)
    candidate = base.subset({p.id for p in base.versions()} | set(base.current))
    for pathway in _compile(session, hospital_id, dict(found.builtin)):
        candidate.add(pathway)
    return base, candidate


def plan(
    base: Library,
    candidate: Library,
    moving: frozenset[str],
    now: datetime,
    *,
    weeks: int,
    settings: Settings,
) -> Plan:
    """``Plan.build``, with the pathways whose women move counted as changed even where the
    shipped version is current already (women still pinned to an older one)."""
    versions: dict[str, list[Pathway]] = {}
    for library in (base, candidate):
        for pathway in library.versions():
            versions.setdefault(pathway.id, []).append(pathway)
    changed = changed_pathways(base, candidate) | moving
    simulated = closure({i: footprint(v) for i, v in versions.items()}, changed)
    return Plan(
        before=base.subset(simulated),
        after=candidate.subset(simulated, pinned_from=base),
        changed=changed,
        simulated=simulated,
        now=now,
        weeks=weeks,
        settings=settings,
    )


def in_care_states(session: Session, hospital_id: str, now: datetime) -> Iterator[Enrolled]:
    """Every pregnancy of the hospital in care at ``now``, from its stored state, ``CHUNK`` rows
    at a time (keyset by id: bounded memory however large the hospital); the review page's
    cohort impact reads them through this too."""
    after = ""
    while True:
        rows = session.execute(
            select(Pregnancy.id, Pregnancy.state)
            .where(Pregnancy.hospital_id == hospital_id, Pregnancy.id > after)
            .order_by(Pregnancy.id)
            .limit(CHUNK)
        ).all()
        if not rows:
            return
        after = rows[-1].id
        for row in rows:
            if row.state:
                state = state_codec.load_state(row.state)
                if in_care(state.facts, now):
                    yield Enrolled(state)


def impact(
    session: Session, hospital_id: str, found: Pending, now: datetime, *, weeks: int, settings: Settings
) -> dict[str, Any]:
    """The cohort impact of adopting (``impact_json``: pin against migrate), without the ids of
    the women affected (counts only: the page and the terminal show no one)."""
    base, candidate = libraries(session, hospital_id, found)
    chosen = plan(base, candidate, frozenset(found.builtin), now, weeks=weeks, settings=settings)
    total = CohortImpact()
    for enrolled in in_care_states(session, hospital_id, now):
        total.add(chosen.run([enrolled]))
    report = impact_json(chosen, total, affected_limit=0)
    for choice in ("pin", "migrate"):
        report[choice].pop("affected", None)
    return report


def adopt(session: Session, hospital_id: str, found: Pending, now: datetime, actor: Actor) -> dict[str, int]:
    """Publish the release's shipped pathways the hospital runs as built-in and move its women
    to them (publish-with-migrate). Returns pathway id -> enrolments moved. The hospital's own
    copies are left to its review (``found.own``)."""
    if not found.builtin:
        return {}
    context = {
        k: v for k, v in pathways.current_sources(session, hospital_id).items() if k not in found.builtin
    }
    rows = pathways.publish(
        session,
        {f"{name}.yaml": text for name, text in found.builtin.items()},
        now,
        author="carepath",
        reviewer=None,
        context=context,
    )
    moved: dict[str, int] = {}
    for row in rows:
        if row.status != "published" or row.published_at != now:
            # Published before (or retired since): current again from now, its text unchanged.
            row.status, row.published_at = "published", now
        moved[row.pathway_id] = pathways.move_enrolments(
            session, hospital_id, row.pathway_id, row.version, now
        )
        audit(
            session,
            actor,
            "change",
            now,
            f"release {found.release.version}: {row.pathway_id}@{row.version} current;"
            f" moved {moved[row.pathway_id]} enrolment(s)",
        )
    pathways.clear_cache()
    return moved
