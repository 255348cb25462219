"""The inbox copies of a claimed batch: every item's full text, filed once for her inbox.

Part of the claim (``claiming.py``): an item is rendered from the hospital's education
library and filed idempotently on its dedupe key; external messages carry only its neutral
summary and the link to this copy.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import String, cast, func, insert, literal, select, update
from sqlalchemy.orm import Session

from carepath.delivery.rendering import RenderedItem, build_safe_facts, generic_message, render_action
from carepath.store import outbox_batch, publishing
from carepath.store.models import InboxItem
from carepath.store.outbox_batch import OutboxLike

logger = logging.getLogger("carepath.delivery")


def render(row: OutboxLike, today: Any, content: Mapping[str, Any]) -> tuple[str, str, str]:
    """(title, neutral summary, body) of an outbox item from ``content`` (the hospital's
    education library: shipped items, each replaced by its own published version). The body
    goes to the inbox only; an item without content of its own (a checkup reminder) gets the
    generic wording of its kind."""
    params = row.params if isinstance(row.params, dict) else {}
    try:
        rendered = render_action(row.kind, params, content, build_safe_facts(first_name="", today=today))
    except Exception:  # a template lint missed: the inbox still gets the generic wording
        logger.exception("rendering %s for %s failed", params.get("content"), row.dedupe_key)
        rendered = generic_message(row.kind)
    return rendered.title, rendered.summary, rendered.body


@dataclass
class Filed:
    """An item's inbox copy as external messages need it (``id`` and ``link`` once inserted)."""

    title: str
    summary: str
    id: int = 0
    link: str = ""


class InboxCopies:
    """The inbox copies of one claimed batch: the existing ones read in one query, the new ones
    inserted in one statement with their links (on SQLite: ids returned, links set in one more
    per link base)."""

    def __init__(
        self,
        session: Session,
        rows: Sequence[OutboxLike],
        *,
        libraries: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        """``libraries``: hospital -> its education library, when the caller has it already."""
        self._session = session
        keys = [row.dedupe_key for row in rows]
        found = session.execute(
            select(
                InboxItem.dedupe_key, InboxItem.id, InboxItem.title, InboxItem.summary, InboxItem.link
            ).where(outbox_batch.among(session, InboxItem.dedupe_key, keys))
        )
        self.items = {key: Filed(title, summary, id_, link or "") for key, id_, title, summary, link in found}
        self._new: dict[str, tuple[Filed, dict[str, Any], str]] = {}
        self._filed: list[tuple[OutboxLike, Filed]] = []
        self._libraries: dict[str, Mapping[str, Any]] = dict(libraries or {})

    def _library(self, hospital_id: str) -> Mapping[str, Any]:
        """The hospital's education library, read once per batch."""
        library = self._libraries.get(hospital_id)
        if library is None:
            library = self._libraries[hospital_id] = publishing.content_items(self._session, hospital_id)
        return library

    def file(
        self,
        row: OutboxLike,
        now: datetime,
        link_base: str,
        version: str | None,
        notice: RenderedItem | None = None,
    ) -> Filed:
        """File the inbox copy once (idempotent on the dedupe key), recording on the row the
        content ``version`` it was rendered from; ``id`` and ``link`` are set by ``flush``.
        ``notice``: the hospital's emergency notice, filed in place of urgent advice that is
        not approved (``emergency_notice.py``; the row's version says so)."""
        filed = self.items.get(row.dedupe_key)
        if filed is None:
            if notice is not None:
                row.content_version = notice.key
                title, summary, body = notice.title, notice.summary, notice.body
            else:
                row.content_version = version
                title, summary, body = render(row, now.date(), self._library(row.hospital_id))
            filed = self.items[row.dedupe_key] = Filed(title, summary)
            values = {"hospital_id": row.hospital_id, "pregnancy_id": row.pregnancy_id,
                      "dedupe_key": row.dedupe_key, "kind": row.kind, "title": title, "summary": summary,
                      "body": body, "filed_at": now}  # fmt: skip
            self._new[row.dedupe_key] = (filed, values, link_base.rstrip("/") + "/")
        self._filed.append((row, filed))
        return filed

    def flush(self) -> None:
        if self._new:
            with self._session.no_autoflush:  # the batch's outbox changes are written after, once
                if outbox_batch.is_postgresql(self._session):
                    self._insert_numbered()
                else:
                    self._insert_returning()
        for row, filed in self._filed:
            row.inbox_item_id = filed.id
        self._new.clear()
        self._filed.clear()

    def _insert_numbered(self) -> None:
        """PostgreSQL: the ids drawn from the table's sequence first, so that the copies go in
        with their links as one executemany INSERT (a statement psycopg parses once; a
        multi-row INSERT … RETURNING of a hundred copies was parsed anew every batch)."""
        new = list(self._new.values())
        ids = self._session.scalars(
            select(func.nextval(func.pg_get_serial_sequence(InboxItem.__tablename__, "id"))).select_from(
                func.generate_series(1, len(new))
            )
        ).all()
        for (filed, _, base), id_ in zip(new, ids, strict=True):
            filed.id, filed.link = id_, f"{base}{id_}"
        self._session.connection().execute(
            insert(InboxItem.__table__),  # type: ignore[arg-type]  # Core: no ORM bulk bookkeeping
            [{**values, "id": filed.id, "link": filed.link} for filed, values, _ in new],
        )

    def _insert_returning(self) -> None:
        """SQLite: one INSERT … RETURNING the ids, then the links set in one UPDATE per link base."""
        new = list(self._new.values())
        statement = insert(InboxItem).returning(InboxItem.id, sort_by_parameter_order=True)
        ids = self._session.scalars(statement, [values for _, values, _ in new]).all()
        by_base: dict[str, list[int]] = defaultdict(list)
        for (filed, _, base), id_ in zip(new, ids, strict=True):
            filed.id, filed.link = id_, f"{base}{id_}"
            by_base[base].append(id_)
        for base, base_ids in by_base.items():
            self._session.execute(
                update(InboxItem)
                .where(InboxItem.id.in_(base_ids))
                .values(link=literal(base) + cast(InboxItem.id, String))
                .execution_options(synchronize_session=False)
            )
