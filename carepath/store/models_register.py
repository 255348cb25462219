"""The high-risk register's indexes (高危专案, issue 21 item 1, migration 0030): no table of its own.

The register lists pregnancies by colour, then by EDD (nearest first), a keyset page at a time
(``store/risk_register.py``). Three indexes serve it without reading any woman's engine state:

- ``BY_COLOUR``: every pregnancy by (colour, EDD, id), the list's own order inside a colour.
- ``SUGGESTED``: the same, only over colours a rule suggested and no clinician confirmed yet —
  the queue. Whether a colour is confirmed lives in her state's JSON (``facts.risk_colour_status``,
  ``state_codec``); the index's predicate reads it once per write, so the queue never parses
  states. A state of format 1 has no status: its colour is a rule's (``stored_colour``), hence the
  ``coalesce``.
- ``PURPLE``: the women flagged purple (an infectious disease, 2017 规范), a flag beside the colour.

A partial index serves a query only when the query repeats its predicate word for word (and as
literal SQL, not a bound parameter), so the predicates are kept here, per dialect, and
``risk_register`` builds its conditions from these same strings.
"""

from __future__ import annotations

from sqlalchemy import Index, text

from carepath.store.models import Pregnancy

#: A colour a rule suggested that no clinician confirmed (the queue), per dialect.
SUGGESTED_SQL = {
    "postgresql": "risk_colour IS NOT NULL AND "
    "coalesce((state -> 'facts') ->> 'risk_colour_status', 'suggested') = 'suggested'",
    "sqlite": "risk_colour IS NOT NULL AND "
    "coalesce(json_extract(state, '$.facts.risk_colour_status'), 'suggested') = 'suggested'",
}
#: Flagged purple, per dialect (JSON ``true``: text 'true' on PostgreSQL, 1 on SQLite).
PURPLE_SQL = {
    "postgresql": "((state -> 'facts') ->> 'purple') = 'true'",
    "sqlite": "json_extract(state, '$.facts.purple') = 1",
}

#: Each index ends with the hospital and the status, which the list never orders by: the counts
#: (by colour, waiting, purple, of one hospital's pregnant women) then read the index alone,
#: never the table, whose rows carry each woman's whole engine state.
COUNTED = (Pregnancy.hospital_id, Pregnancy.status)

BY_COLOUR = Index("ix_pregnancies_register", Pregnancy.risk_colour, Pregnancy.edd, Pregnancy.id, *COUNTED)
SUGGESTED = Index(
    "ix_pregnancies_suggested",
    Pregnancy.risk_colour,
    Pregnancy.edd,
    Pregnancy.id,
    *COUNTED,
    postgresql_where=text(SUGGESTED_SQL["postgresql"]),
    sqlite_where=text(SUGGESTED_SQL["sqlite"]),
)
PURPLE = Index(
    "ix_pregnancies_purple",
    Pregnancy.edd,
    Pregnancy.id,
    *COUNTED,
    postgresql_where=text(PURPLE_SQL["postgresql"]),
    sqlite_where=text(PURPLE_SQL["sqlite"]),
)
