"""The invariant of store/congratulations.py, on SQLite and PostgreSQL: after a baby is lost, no
celebrating item is visible to her or sendable — whatever her outbox held, in whatever state —
and nothing else of hers changes."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from carepath.engine import loss
from carepath.engine.facts import Baby, Facts
from carepath.store import congratulations, her_pages
from carepath.store.models import InboxItem, OutboxRow, Pregnancy
from tests.conftest import NOW
from tests.delivery.conftest import HOSPITAL, add_outbox, add_pregnancy

CONTENT = ("postpartum-care", "week-37", "week-36", "loss-follow-up")
STATUSES = ("due", "held", "in_flight", "sent", "cancelled", "skipped")
_serial = itertools.count()


def _file(db: Any, pregnancy_id: str, key: str, title: str) -> None:
    with db.transaction() as session:
        session.add(
            InboxItem(
                hospital_id=HOSPITAL, pregnancy_id=pregnancy_id, dedupe_key=key, kind="push",
                title=title, summary="您的健康小课堂已更新，点开看看吧。", body="…", filed_at=NOW,
            )
        )  # fmt: skip


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.lists(
        st.tuples(st.sampled_from(CONTENT), st.sampled_from(STATUSES), st.booleans()), min_size=1, max_size=8
    )
)
def test_after_a_loss_nothing_celebrating_is_visible_or_sendable(
    db: Any, cipher: Any, rows: list[tuple[str, str, bool]]
) -> None:
    with db.transaction() as session:
        session.execute(delete(InboxItem))
        session.execute(delete(OutboxRow))
    n = next(_serial)
    patient_id, pregnancy_id = add_pregnancy(db, cipher, 1000 + n)
    other_patient, other = add_pregnancy(db, cipher, 5000 + n)  # another mother: untouched
    for index, (content, status, filed) in enumerate(rows):
        for owner in (pregnancy_id, other):
            key = f"{owner}/{index}"
            add_outbox(db, owner, key, kind="push", status=status, params={"content": content})
            if filed or status in ("in_flight", "sent"):
                _file(db, owner, key, content)
    with db.transaction() as session:
        before = {r.dedupe_key: (r.status, r.status_reason) for r in session.scalars(select(OutboxRow))}
        congratulations.withdraw(session, session.get(Pregnancy, pregnancy_id), NOW + timedelta(hours=1))
    with db.transaction() as session:
        after = {r.dedupe_key: (r.status, r.status_reason) for r in session.scalars(select(OutboxRow))}
    celebrating = {"postpartum-care", "week-37"}
    for index, (content, status, _) in enumerate(rows):
        mine, theirs = f"{pregnancy_id}/{index}", f"{other}/{index}"
        assert after[theirs] == before[theirs]
        if content in celebrating and status in ("due", "held"):
            assert after[mine] == ("cancelled", "baby-lost")
        else:
            assert after[mine] == before[mine]
    seen = {item.title for item in her_pages.her_inbox(db, HOSPITAL, patient_id, NOW)}
    assert not seen & celebrating
    assert seen == {
        content
        for content, status, filed in rows
        if content not in celebrating and (filed or status in ("in_flight", "sent"))
    }
    theirs_seen = {item.title for item in her_pages.her_inbox(db, HOSPITAL, other_patient, NOW)}
    assert theirs_seen == {c for c, s, f in rows if f or s in ("in_flight", "sent")}


def test_the_moment_of_loss() -> None:
    """Only the evaluation that loses a baby (or confirms a loss) withdraws; a later one of a
    bereaved mother need not, and a living baby's news never does."""
    alive, dead = Baby("live"), Baby("stillbirth")
    unknown = Facts("p", NOW)
    born = Facts("p", NOW, babies=(alive, alive))
    one_lost = Facts("p", NOW, babies=(alive, dead))
    assert congratulations.lost_now(born, one_lost, None)
    assert congratulations.lost_now(unknown, one_lost, None)
    assert not congratulations.lost_now(one_lost, one_lost, None)
    assert not congratulations.lost_now(unknown, born, None)
    assert congratulations.lost_now(unknown, unknown, loss.CONFIRMED)
    assert not congratulations.lost_now(unknown, unknown, loss.HELD)
