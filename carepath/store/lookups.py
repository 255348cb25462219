"""Filling the search lookups of rows written before they existed (migration 0026).

``patients.name_hash`` needs the lookup key, which a migration never holds, so the CLI
(``carepath db backfill-lookups``) fills it here: a page of patients at a time, each page one
transaction, names opened and hashed in memory, written in one ``executemany``. Pregnancies
whose ``edd`` column is empty while their state has one (a state written by an older process
during a rolling upgrade) are filled the same way. Running it again does nothing more: only
empty columns are read, so it can be stopped and resumed at any time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select, update

from carepath.store.crypto import FieldCipher
from carepath.store.db import Database
from carepath.store.models import Patient, Pregnancy

PAGE = 1000


@dataclass(frozen=True)
class Backfilled:
    names: int
    edds: int


def backfill(db: Database, cipher: FieldCipher, *, page: int = PAGE) -> Backfilled:
    """Fill every empty ``name_hash`` and ``edd`` that can be filled, page by page."""
    return Backfilled(names=_names(db, cipher, page), edds=_edds(db, page))


def _names(db: Database, cipher: FieldCipher, page: int) -> int:
    done, after = 0, 0
    while True:
        with db.transaction() as session:
            rows = session.execute(
                select(Patient.id, Patient.name_sealed)
                .where(Patient.id > after, Patient.name_sealed.is_not(None), Patient.name_hash.is_(None))
                .order_by(Patient.id)
                .limit(page)
            ).all()
            if not rows:
                return done
            session.execute(
                update(Patient),
                [{"id": row.id, "name_hash": cipher.name_hash(cipher.open(row.name_sealed))} for row in rows],
            )
        done += len(rows)
        after = rows[-1].id


def _edds(db: Database, page: int) -> int:
    done, after = 0, ""
    while True:
        with db.transaction() as session:
            rows = session.execute(
                select(Pregnancy.id, Pregnancy.state)
                .where(Pregnancy.id > after, Pregnancy.edd.is_(None))
                .order_by(Pregnancy.id)
                .limit(page)
            ).all()
            if not rows:
                return done
            found = [
                {"id": row.id, "edd": date.fromisoformat(row.state["edd"])}
                for row in rows
                if isinstance(row.state, dict) and row.state.get("edd")
            ]
            if found:
                session.execute(update(Pregnancy), found)
        done += len(found)
        after = rows[-1].id
