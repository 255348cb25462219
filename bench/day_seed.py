"""The day's province (``bench/day.py``): ``women`` pregnancies across the pregnancy spread, in a
database of the run's own, seeded in SQL.

36 template women are registered through the real event service a day before the run, at 5 to
40 weeks (their states, enrolments, dating records and outbox rows are what the product writes);
every other woman is a copy of one of them made in the database (``INSERT … SELECT`` over
``generate_series``, as ``bench/workspace_seed.py`` does for the workspace: no row crosses to
Python, which is faster than ``COPY`` would be from here), her ids replaced in the copied JSON,
with her own consents (health information on every channel, WeChat templates for every topic)
and her WeChat openid. One woman in five (``DUE_EVERY``) is due to wake now; the others' next
wake-up is moved two days on, so the day wakes exactly the fifth. Each woman who wakes also has
one WeChat reminder due now: the day's messages (the sweep adds the ones her pathways make).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from workspace_seed import _clone, clone_her_rows, templates  # the workspace's seed's copying

from carepath.engine.catalogue import PATHWAYS_DIR
from carepath.store import demo, events, hospital_settings, tenants
from carepath.store.crypto import FieldCipher
from carepath.store.db import Database, upgrade
from carepath.store.models import ApiKey
from carepath.store.scope import Actor

HOSPITAL = "day"
#: The WeChat account the fake knows (``tests/fakes/providers.py``' default) and her binding names.
OA_APPID = "wx-hospital"
TEMPLATES = 36  # weeks 5 to 40
DUE_EVERY = 5
BASE = 10_000_000


@dataclass(frozen=True)
class Seeded:
    women: int
    due: int
    messages: int
    seconds: float
    bytes: int
    key: dict[str, str]


def seed(url: str, config: dict[str, str], women: int) -> Seeded:
    began = time.perf_counter()
    upgrade(url)
    db = Database(url)
    cipher = FieldCipher.from_config(config["CAREPATH_FIELD_KEYS"], config["CAREPATH_LOOKUP_KEY"])
    now = datetime.now(UTC)
    registered = now - timedelta(days=1)
    demo.publish_examples(db, PATHWAYS_DIR, registered)
    with db.transaction() as session:
        tenants.ensure_hospital(session, HOSPITAL, "a province's day", registered)
        key = tenants.create_api_key(session, cipher, HOSPITAL, "his", registered)
        # any hour, so the day runs whenever the machine is quiet; the library's content is draft
        # (no clinician has approved it), which a hospital must allow for it to be sent
        hospital_settings.update(
            session,
            HOSPITAL,
            {"window_opens": "00:00", "window_closes": "23:59", "drafts_allowed": True},
            actor=Actor(HOSPITAL, "cli", "day-bench"),
            now=registered,
        )
    with db.reading() as session:
        integrator = session.get(ApiKey, key.key_id).integrator_id  # type: ignore[union-attr]
    actor = Actor(HOSPITAL, "integrator", str(integrator))
    for n in range(TEMPLATES):
        weeks = 5 + n
        birth = f"{1986 + n % 12}-0{1 + n % 9}-1{n % 10}"
        events.post_event(
            db,
            cipher,
            actor,
            {
                "id": f"tpl-{n}",
                "type": "patient.registered",
                "occurred_at": registered.isoformat(),
                "patient": {
                    "his_id": f"tpl-{n}",
                    "id_number": demo.demo_id_number(n + 1, birth),
                    "name": f"模板{n}",
                    "phone": f"1370000{n:04d}",
                },
                "data": {
                    "lmp": (registered - timedelta(weeks=weeks, days=n % 7)).date().isoformat(),
                    "birth_date": birth,
                    "gravida": 1 + n % 3,
                    "para": min(n % 2, n % 3),  # never more births than earlier pregnancies
                },
            },
            registered,
        )
    with db.engine.begin() as conn:
        _copies(conn, women, now)
        due = int(
            conn.execute(
                text("SELECT count(*) FROM pregnancies WHERE next_wakeup <= :now"), {"now": now}
            ).scalar_one()
        )
        messages = int(
            conn.execute(text("SELECT count(*) FROM outbox WHERE dedupe_key LIKE 'day-%'")).scalar_one()
        )
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))  # the run's own database: nobody else's tables
        size = int(conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one())
    db.dispose()
    return Seeded(
        women, due, messages, time.perf_counter() - began, size, {"key_id": key.key_id, "secret": key.secret}
    )


def _copies(conn: object, women: int, now: datetime) -> None:
    run = conn.execute  # type: ignore[attr-defined]
    p = {"now": now, "h": HOSPITAL, "due": now - timedelta(minutes=1), "later": now + timedelta(days=2)}
    k = templates(conn)  # type: ignore[arg-type]
    run(
        text(
            "CREATE TEMP TABLE w AS SELECT g, md5('day-pregnancy-' || g) AS pid, :base + g AS patient, "
            "g % :k AS k, (g % :every = 0) AS due FROM generate_series(1, :n) g"
        ),
        {"base": BASE, "k": k, "every": DUE_EVERY, "n": women},
    )
    run(text("CREATE UNIQUE INDEX ON w (g)"))
    run(text("ANALYZE w"))
    _clone(
        conn,  # type: ignore[arg-type]
        "patients",
        "w JOIN tpl ON tpl.k = w.k JOIN patients t ON t.id = tpl.patient_id",
        {
            "id": "w.patient",
            "his_patient_id": "'d-' || w.g",
            "id_number_hash": "md5('id-' || w.g)",
            "phone_hash": "md5('phone-' || w.g)",
        },
    )
    _clone(
        conn,  # type: ignore[arg-type]
        "pregnancies",
        "w JOIN tpl ON tpl.k = w.k JOIN pregnancies t ON t.id = tpl.id",
        {
            "id": "w.pid",
            "patient_id": "w.patient",
            "his_pregnancy_id": "'d-' || w.g",
            "state": "CAST(replace(t.state::text, tpl.id, w.pid) AS json)",
            "next_wakeup": "CASE WHEN w.due THEN CAST(:due AS timestamptz) "
            "ELSE CAST(:later AS timestamptz) END",
        },
        **p,
    )
    clone_her_rows(conn)  # type: ignore[arg-type]
    run(
        text(
            "INSERT INTO consents (hospital_id, patient_id, channel, topic, granted, notice_version, source, "
            "given_at) SELECT :h, w.patient, c.channel, c.topic, true, '2026-01', 'mini-program', :now "
            "FROM w CROSS JOIN (VALUES ('*', 'health-information'), ('wechat_template', '*')) "
            "AS c(channel, topic)"
        ),
        p,
    )
    run(
        text(
            "INSERT INTO channel_bindings (hospital_id, patient_id, kind, account, value, bound_at) "
            "SELECT :h, w.patient, 'wechat_oa', :appid, 'o-' || w.g, :now FROM w"
        ),
        {**p, "appid": OA_APPID},
    )
    run(
        text(
            "INSERT INTO outbox (hospital_id, pregnancy_id, dedupe_key, pathway_id, version, rule_id, kind, "
            "params, due_at, channels, enrolment_id, why, status, attempts, created_at, updated_at) "
            "SELECT :h, w.pid, 'day-' || w.g, 'anc', '1', 'r', 'remind', CAST(:params AS json), :due, "
            "CAST(:channels AS json), 'e', 'the day', 'due', 0, :now, :now FROM w WHERE w.due"
        ),
        {**p, "params": '{"visit": "anc-2"}', "channels": '["wechat"]'},
    )
