"""The workspace benchmark's hospital (``bench/workspace.py``): 100k pregnancies, 10k open tasks,
20 staff in 3 teams, seeded in seconds.

A few women are registered through the real engine (the demo's example patients), so their
engine state, outbox rows, enrolments and dating records are what the product writes; every
other woman is a copy of one of them made in the database (``INSERT … SELECT`` over
``generate_series``: no row crosses to Python), her ids replaced in the copied JSON. Her name,
ID number and phone are ciphertexts sealed once with the app's FieldCipher and reused: names are
``NAME_COUNT`` different names (``bench_name``; a name is shared by about five women, as common
names are), each with its keyed hash (``patients.name_hash``) so a search by exact name finds
them; her ID number's keyed hash is her own (``bench_id_number``: a valid, made-up resident
number per woman), so a search by ID number finds exactly her; her EDD column is her state's.
Her care row puts her in one of the teams with a responsible doctor and nurse of it; each task is routed as
``care_routing.route`` would (her doctor's, her nurse's, or the team's queue). Every hundredth
woman has a long history (``RICH_*``: a few hundred outbox rows, events, tag changes, tasks and
inbox items), the records the benchmark reads.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from carepath.engine import identity
from carepath.engine.catalogue import PATHWAYS_DIR
from carepath.store import accounts, care_teams, demo, tenants
from carepath.store.crypto import FieldCipher
from carepath.store.db import Database, upgrade
from carepath.store.models import ApiKey
from carepath.store.scope import Actor

HOSPITAL = demo.DEMO_HOSPITAL
PASSWORD = "Bench-workspace-2026!"
#: Ids of copied rows start here (the engine's own rows have small ids).
BASE = 10_000_000
#: Every RICH-th woman has a long history; what it holds.
RICH = 100
RICH_OUTBOX, RICH_EVENTS, RICH_TAGS, RICH_TASKS, RICH_INBOX = 300, 100, 60, 30, 40
#: Closed tasks besides the rich women's (done and cancelled tasks pile up for ever).
CLOSED_TASKS = 20_000
#: The teams: name, doctors, nurses (20 staff).
TEAMS = (("产科一组", 2, 5), ("产科二组", 2, 5), ("产科三组", 2, 4))
NAMES = ("王丽", "李娜", "张敏", "刘静", "陈燕", "杨芳", "赵霞", "黄婷")
#: Distinct names of the seeded women (woman g is ``bench_name(g)``): 100k women share 20k names.
NAME_COUNT = 20_000
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕"
GIVEN = "丽娜敏静燕芳霞婷秀英华慧玲红梅兰凤洁琳素云莲真环雪荣爱妹"


def bench_name(g: int) -> str:
    """The name of seeded woman ``g``: a surname and a one- or two-character given name."""
    n = g % NAME_COUNT
    surname, rest = SURNAMES[n % len(SURNAMES)], n // len(SURNAMES)
    if rest < len(GIVEN):
        return surname + GIVEN[rest]
    rest -= len(GIVEN)
    return surname + GIVEN[rest % len(GIVEN)] + GIVEN[(rest // len(GIVEN)) % len(GIVEN)]


def bench_id_number(g: int) -> str:
    """Seeded woman ``g``'s resident ID number: made up (a birth date and a woman's even
    sequence), with its computed check character, one per woman."""
    born = date(1985, 1, 1) + timedelta(days=g // 500)
    body = f"330102{born:%Y%m%d}{2 * (g % 500):03d}"
    return body + identity.check_digit(body)


@dataclass(frozen=True)
class Member:
    username: str
    staff_id: int
    team: int  # index in TEAMS


@dataclass(frozen=True)
class Seeded:
    women: int
    members: list[Member]
    rich_by_team: dict[int, list[str]]  # pregnancy ids of the rich women, by team index
    plain_by_team: dict[int, list[str]]  # a sample of the other women, by team index
    seconds: float
    size: str


def _columns(conn: Connection, table: str) -> list[str]:
    return list(
        conn.execute(
            text(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND table_name = :t ORDER BY ordinal_position"
            ),
            {"t": table},
        ).scalars()
    )


def _clone(conn: Connection, table: str, source: str, overrides: dict[str, str | None], **params: Any) -> int:
    """INSERT INTO ``table`` one row per row of ``source`` (a FROM clause in which ``t`` is a row
    of ``table``): each column copied from ``t`` unless ``overrides`` gives its expression (None:
    left to its default, e.g. the id's sequence)."""
    columns = _columns(conn, table)
    unknown = set(overrides) - set(columns)
    assert not unknown, f"{table} has no {unknown}"
    kept = [c for c in columns if c not in overrides or overrides[c] is not None]
    exprs = ", ".join(overrides.get(c) or f"t.{c}" for c in kept)
    sql = f"INSERT INTO {table} ({', '.join(kept)}) SELECT {exprs} FROM {source}"
    return int(conn.execute(text(sql), params).rowcount or 0)


def templates(conn: Connection) -> int:
    """The engine's women as templates: temp table ``tpl`` (k, id, patient_id), k from 0; how
    many. A copy ``w`` (g, pid, k, …) takes template ``g % k``."""
    conn.execute(
        text(
            "CREATE TEMP TABLE tpl AS SELECT row_number() OVER (ORDER BY id) - 1 AS k, id, patient_id "
            "FROM pregnancies"
        )
    )
    return int(conn.execute(text("SELECT count(*) FROM tpl")).scalar_one())


def clone_her_rows(conn: Connection) -> None:
    """Each copy's enrolments, dating records and diagnoses: her template's, with her ids (the
    temp tables ``w`` and ``tpl`` of the seed)."""
    her = "w JOIN tpl ON tpl.k = w.k JOIN {table} t ON t.pregnancy_id = tpl.id"
    _clone(
        conn,
        "enrolments",
        her.format(table="enrolments"),
        {"id": "replace(t.id, tpl.id, w.pid)", "pregnancy_id": "w.pid"},
    )
    for table in ("dating_records", "diagnoses"):
        _clone(
            conn,
            table,
            her.format(table=table),
            {"id": None, "pregnancy_id": "w.pid", "event_row_id": "NULL"},
        )


def _staff_and_teams(db: Database, now: datetime) -> tuple[list[Member], list[dict[str, Any]]]:
    admin = Actor(HOSPITAL, "cli", "bench")
    members: list[Member] = []
    teams: list[dict[str, Any]] = []
    n = 0
    for index, (name, doctors, nurses) in enumerate(TEAMS):
        team_id = care_teams.create_team(db, admin, name, "obstetric", now)
        people: dict[str, list[int]] = {"doctor": [], "nurse": []}
        for role, count in (("doctor", doctors), ("nurse", nurses)):
            for _ in range(count):
                n += 1
                username = f"bench-{role}-{n:02d}"
                created = accounts.create_account(
                    db, HOSPITAL, username, PASSWORD, [role], now=now, name=f"{NAMES[n % 8]}{n:02d}"
                )
                care_teams.add_member(db, admin, team_id, created.id, team_role=role, now=now)
                people[role].append(created.id)
                members.append(Member(username, created.id, index))
        care_teams.set_lead(db, admin, team_id, people["doctor"][0], now)
        teams.append({"id": team_id, **people})
    return members, teams


def seed(url: str, cipher: FieldCipher, women: int, open_tasks: int, now: datetime) -> Seeded:
    """The hospital (see the module) in the schema of ``url``."""
    began = time.perf_counter()
    upgrade(url)
    db = Database(url)
    demo.publish_examples(db, PATHWAYS_DIR, now)
    with db.transaction() as session:
        tenants.ensure_hospital(session, HOSPITAL, "bench hospital", now)
        key = tenants.create_api_key(session, cipher, HOSPITAL, "his", now)
    with db.reading() as session:
        integrator = session.get(ApiKey, key.key_id).integrator_id  # type: ignore[union-attr]
    demo.register_patients(
        db, cipher, integrator, Path(__file__).parent.parent / "examples" / "patients", now
    )
    members, teams = _staff_and_teams(db, now)
    names = [bench_name(g) for g in range(NAME_COUNT)]
    sealed = {
        "names": [cipher.seal(name) for name in names],
        "name_hashes": [cipher.name_hash(name) for name in names],
        "ids": [cipher.seal(bench_id_number(i)) for i in range(8)],
        "id_hashes": [cipher.lookup_hash("id", bench_id_number(g)) for g in range(1, women + 1)],
        "phones": [cipher.seal(f"1390000{i:04d}") for i in range(8)],
    }
    engine_seconds = time.perf_counter() - began
    with db.engine.begin() as conn:
        _bulk(
            conn,
            women=women,
            open_tasks=open_tasks,
            teams=teams,
            sealed=sealed,
            now=now,
            integrator=integrator,
        )
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        # only this schema's tables: a bare VACUUM visits every schema of a shared database (and
        # deadlocked with other work there)
        for table in conn.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
        ).scalars():
            conn.execute(text(f'VACUUM ANALYZE "{table}"'))
        size = conn.execute(
            text(
                "SELECT pg_size_pretty(sum(pg_total_relation_size(format('%I.%I', schemaname, tablename)))) "
                "FROM pg_tables WHERE schemaname = current_schema()"
            )
        ).scalar_one()
        found = conn.execute(
            text(
                "SELECT p.id, c.team_id, p.his_pregnancy_id LIKE 'rich-%' FROM pregnancies p "
                "JOIN pregnancy_care c ON c.pregnancy_id = p.id "
                "WHERE p.his_pregnancy_id LIKE 'rich-%' OR p.his_pregnancy_id LIKE 'b-%7'"
            )
        ).all()
    team_index = {t["id"]: i for i, t in enumerate(teams)}
    rich: dict[int, list[str]] = {i: [] for i in range(len(teams))}
    plain: dict[int, list[str]] = {i: [] for i in range(len(teams))}
    for pregnancy_id, team_id, is_rich in found:
        (rich if is_rich else plain)[team_index[team_id]].append(pregnancy_id)
    db.dispose()
    seconds = time.perf_counter() - began
    print(f"seeded in {seconds:.0f} s ({engine_seconds:.0f} s of it the engine's women, the staff and teams)")
    return Seeded(women, members, rich, plain, seconds, size)


def _bulk(
    conn: Connection,
    *,
    women: int,
    open_tasks: int,
    teams: list[dict[str, Any]],
    sealed: dict[str, list[str]],
    now: datetime,
    integrator: int,
) -> None:
    p: dict[str, Any] = {"now": now, "h": HOSPITAL, "integrator": integrator}
    run = conn.execute
    # the engine's women are the templates; woman g (1..n) copies template g % k, is in team g % 3
    k = templates(conn)
    run(
        text(
            "CREATE TEMP TABLE w AS SELECT g, md5('bench-pregnancy-' || g) AS pid, :base + g AS patient, "
            "g % :k AS k, g % 3 AS t, (g % :rich = 0) AS rich, "
            "CASE WHEN g % :rich = 0 THEN 'rich-' ELSE 'b-' END || g AS his FROM generate_series(1, :n) g"
        ),
        {"base": BASE, "k": k, "rich": RICH, "n": women},
    )
    run(text("CREATE UNIQUE INDEX ON w (g)"))
    run(
        text(
            "CREATE TEMP TABLE sealed AS "
            "SELECT CAST(:ids AS text[]) AS ids, CAST(:phones AS text[]) AS phones"
        ),
        {"ids": sealed["ids"], "phones": sealed["phones"]},
    )
    # names and ID numbers as tables joined by key: subscripting a 100k-element array once per
    # row detoasts it once per row (the insert ran for many minutes)
    run(
        text(
            "CREATE TEMP TABLE named AS SELECT (n - 1)::int AS n, name, hash "
            "FROM unnest(CAST(:names AS text[]), CAST(:hashes AS text[])) WITH ORDINALITY AS u(name, hash, n)"
        ),
        {"names": sealed["names"], "hashes": sealed["name_hashes"]},
    )
    run(
        text(
            "CREATE TEMP TABLE numbered AS SELECT n::int AS g, hash "
            "FROM unnest(CAST(:hashes AS text[])) WITH ORDINALITY AS u(hash, n)"
        ),
        {"hashes": sealed["id_hashes"]},
    )
    run(text("CREATE UNIQUE INDEX ON named (n)"))
    run(text("CREATE UNIQUE INDEX ON numbered (g)"))
    run(text("ANALYZE w"))
    run(text("ANALYZE named"))
    run(text("ANALYZE numbered"))
    _clone(
        conn,
        "patients",
        "w JOIN tpl ON tpl.k = w.k JOIN patients t ON t.id = tpl.patient_id CROSS JOIN sealed s "
        f"JOIN named ON named.n = w.g % {NAME_COUNT} JOIN numbered ON numbered.g = w.g",
        {
            "id": "w.patient",
            "his_patient_id": "w.his",
            "name_sealed": "named.name",
            "name_hash": "named.hash",
            "id_number_sealed": "s.ids[1 + w.g % 8]",
            "phone_sealed": "s.phones[1 + w.g % 8]",
            "id_number_hash": "numbered.hash",
            "phone_hash": "md5('phone-' || w.g)",
        },
    )
    # her engine state: the template's, with her id in place of the template's; colours spread
    state = (
        'CASE WHEN w.g % 20 = 0 THEN replace(t.state::text, \'"risk_colour": "yellow"\', '
        '\'"risk_colour": "orange"\') '
        'WHEN w.g % 50 = 1 THEN replace(t.state::text, \'"risk_colour": "yellow"\', '
        '\'"risk_colour": "red"\') '
        "ELSE t.state::text END"
    )
    _clone(
        conn,
        "pregnancies",
        "w JOIN tpl ON tpl.k = w.k JOIN pregnancies t ON t.id = tpl.id",
        {
            "id": "w.pid",
            "patient_id": "w.patient",
            "his_pregnancy_id": "w.his",
            "state": f"CAST(replace({state}, tpl.id, w.pid) AS json)",
            # the column kept beside the state (0025) says the same colour
            "risk_colour": "CASE WHEN t.risk_colour = 'yellow' AND w.g % 20 = 0 THEN 'orange' "
            "WHEN t.risk_colour = 'yellow' AND w.g % 50 = 1 THEN 'red' ELSE t.risk_colour END",
            "next_wakeup": "t.next_wakeup + interval '1 minute' * (w.g % 1440)",
            "edd": "CAST(t.state::json ->> 'edd' AS date)",  # the column kept beside it (0026)
        },
    )
    clone_her_rows(conn)
    # her team and the people named for her
    run(text("CREATE TEMP TABLE tp (t int, team bigint, doctors bigint[], nurses bigint[])"))
    for i, team in enumerate(teams):
        values = {"t": i, "team": team["id"], "d": team["doctor"], "n": team["nurse"]}
        run(text("INSERT INTO tp VALUES (:t, :team, :d, :n)"), values)
    run(
        text(
            "INSERT INTO pregnancy_care (pregnancy_id, hospital_id, team_id, responsible_doctor_id, "
            "responsible_nurse_id, case_manager_id, updated_at, updated_by) "
            "SELECT w.pid, :h, tp.team, tp.doctors[1 + (w.g / 3) % cardinality(tp.doctors)], "
            "tp.nurses[1 + (w.g / 3) % cardinality(tp.nurses)], NULL, :now, 'registration' "
            "FROM w JOIN tp ON tp.t = w.t"
        ),
        p,
    )
    _events(conn, p)
    _outbox(conn, p)
    _tasks(conn, p, open_tasks, women)
    _tags_and_inbox(conn, p)
    for table in (
        "patients",
        "events",
        "outbox",
        "staff_tasks",
        "tag_log",
        "inbox_items",
        "dating_records",
        "diagnoses",
    ):
        sequence = f"pg_get_serial_sequence('{table}', 'id')"
        run(text(f"SELECT setval({sequence}, (SELECT coalesce(max(id), 1) FROM {table}))"))


#: Her registration event: the template's.
REGISTRATION = (
    "w JOIN tpl ON tpl.k = w.k JOIN events t ON t.pregnancy_id = tpl.id AND t.type = 'patient.registered'"
)


def _events(conn: Connection, p: dict[str, Any]) -> None:
    """Her registration (the template's event, her own id); the rich women's history."""
    _clone(
        conn,
        "events",
        REGISTRATION,
        {"id": None, "event_id": "'bench-reg-' || w.g", "pregnancy_id": "w.pid"},
    )
    _clone(
        conn,
        "events",
        f"{REGISTRATION} CROSS JOIN generate_series(1, {RICH_EVENTS}) i WHERE w.rich",
        {
            "id": None,
            "event_id": "'bench-his-' || w.g || '-' || i",
            "pregnancy_id": "w.pid",
            "type": "(ARRAY['lab.result', 'encounter.completed', 'tag.added', 'lab.result'])[1 + i % 4]",
            "occurred_at": ":now - interval '1 hour' * (i * 5)",
            "received_at": ":now - interval '1 hour' * (i * 5)",
            "data": 'CAST((ARRAY[\'{"code": "hb", "value": 108}\', \'{"kind": "anc-contact"}\', '
            '\'{"tag": "妊娠期糖尿病"}\', \'{"code": "ogtt_0h", "value": 5.4, "unit": "mmol/L"}\'])'
            "[1 + i % 4] AS json)",
            "answer": "CAST('{}' AS json)",
        },
        now=p["now"],
    )
    conn.execute(
        text(
            "CREATE TEMP TABLE reg AS SELECT e.id, w.g FROM events e "
            "JOIN w ON e.event_id = 'bench-reg-' || w.g"
        )
    )
    conn.execute(text("CREATE UNIQUE INDEX ON reg (g)"))


def _outbox(conn: Connection, p: dict[str, Any]) -> None:
    """The template's actions for each woman (her ids in the keys); the rich women's history of
    messages sent: copies of them spread over past weeks."""
    common = "w JOIN tpl ON tpl.k = w.k JOIN reg ON reg.g = w.g JOIN outbox t ON t.pregnancy_id = tpl.id"
    mine = {
        "id": None,
        "pregnancy_id": "w.pid",
        "dedupe_key": "replace(t.dedupe_key, tpl.id, w.pid)",
        "enrolment_id": "replace(t.enrolment_id, tpl.id, w.pid)",
        "event_row_id": "reg.id",
    }
    _clone(conn, "outbox", common, mine)
    copies = 1 + RICH_OUTBOX // 7
    past = "t.due_at - interval '1 day' * (i * 3)"
    _clone(
        conn,
        "outbox",
        f"{common} CROSS JOIN generate_series(1, {copies}) i WHERE w.rich",
        {
            **mine,
            "dedupe_key": "replace(t.dedupe_key, tpl.id, w.pid) || '/past-' || i",
            "due_at": "t.due_at - interval '1 day' * (i * 3)",
            "status": "CASE WHEN t.kind IN ('push', 'remind', 'questionnaire') THEN 'sent' ELSE t.status END",
            "sent_at": f"CASE WHEN t.kind IN ('push', 'remind', 'questionnaire') THEN {past} END",
            "read_at": f"CASE WHEN i % 3 = 0 AND t.kind = 'push' THEN {past} END",
            "channel": "CASE WHEN t.kind IN ('push', 'remind', 'questionnaire') THEN 'wechat_template' END",
        },
    )


def _tasks(conn: Connection, p: dict[str, Any], open_tasks: int, women: int) -> None:
    """``open_tasks`` open tasks over random women (urgent 5 %, high 20 %; a fifth overdue; one in
    seven claimed), routed as care_routing.route does; closed tasks besides; each with the
    outbox row that says why (the engine's task rows copied)."""
    run = conn.execute
    run(
        text(
            "CREATE TEMP TABLE ttpl AS SELECT row_number() OVER (ORDER BY id) - 1 AS k, id, dedupe_key "
            "FROM staff_tasks"
        )
    )
    kt = int(run(text("SELECT count(*) FROM ttpl")).scalar_one())
    run(
        text(
            "CREATE TEMP TABLE tk AS "
            "SELECT i, w.g, w.pid, i % :kt AS k, i <= :open AS open "
            "FROM generate_series(1, :open + :closed) i "
            "JOIN w ON w.g = 1 + (i * 7919) % :n "
            "UNION ALL SELECT :open + :closed + row_number() OVER (), w.g, w.pid, j % :kt, false "
            "FROM w CROSS JOIN generate_series(1, :rich_tasks) j WHERE w.rich"
        ),
        {"kt": kt, "open": open_tasks, "closed": CLOSED_TASKS, "n": women, "rich_tasks": RICH_TASKS},
    )
    run(text("CREATE TEMP TABLE tkey AS SELECT tk.*, 'bench-task-' || tk.i || '/' || tk.pid AS key FROM tk"))
    # half her doctor's, a fifth her nurse's, the rest the team's queue (case_manager: none named)
    values = ["responsible_doctor"] * 5 + ["responsible_nurse"] * 2 + ["case_manager"] * 3
    assign = f"(ARRAY[{', '.join(repr(v) for v in values)}])[1 + (tk.i / 7) % 10]"
    person = (
        f"CASE {assign} WHEN 'responsible_doctor' THEN c.responsible_doctor_id "
        "WHEN 'responsible_nurse' THEN c.responsible_nurse_id END"
    )
    _clone(
        conn,
        "staff_tasks",
        "tkey tk JOIN ttpl ON ttpl.k = tk.k JOIN staff_tasks t ON t.id = ttpl.id "
        "JOIN pregnancy_care c ON c.pregnancy_id = tk.pid",
        {
            "id": None,
            "pregnancy_id": "tk.pid",
            "dedupe_key": "tk.key",
            "assign": assign,
            "priority": "CASE WHEN tk.i % 20 = 0 THEN 'urgent' WHEN tk.i % 20 < 5 THEN 'high' "
            "ELSE 'normal' END",
            "due_at": "CASE WHEN tk.i % 20 = 0 THEN :now + interval '1 hour' * (tk.i % 6 - 2) "
            "ELSE :now + interval '1 hour' * (tk.i % 100 - 20) END",
            "status": "CASE WHEN tk.open THEN 'open' WHEN tk.i % 9 = 0 THEN 'cancelled' ELSE 'done' END",
            "created_at": ":now - interval '1 hour' * (30 + tk.i % 200)",
            "claimed_by": "CASE WHEN tk.i % 7 = 0 OR NOT tk.open "
            f"THEN 'staff:' || coalesce({person}, c.responsible_doctor_id) END",
            "claimed_at": "CASE WHEN tk.i % 7 = 0 OR NOT tk.open THEN :now - interval '1 hour' * (1) END",
            "outcome": "CASE WHEN NOT tk.open THEN '已电话联系，孕妇知晓' END",
            "done_at": "CASE WHEN NOT tk.open THEN :now - interval '1 hour' * (tk.i % 500) END",
            "team_id": "c.team_id",
            "assignee_id": person,
        },
        now=p["now"],
    )
    _clone(
        conn,
        "outbox",
        "tkey tk JOIN ttpl ON ttpl.k = tk.k JOIN outbox t ON t.dedupe_key = ttpl.dedupe_key "
        "JOIN reg ON reg.g = tk.g",
        {
            "id": None,
            "pregnancy_id": "tk.pid",
            "dedupe_key": "tk.key",
            "enrolment_id": "tk.pid || '/' || t.pathway_id || '#1'",
            "event_row_id": "reg.id",
        },
    )


def _tags_and_inbox(conn: Connection, p: dict[str, Any]) -> None:
    """A tag set by a rule for each woman; the rich women's tag changes and inbox items."""
    run = conn.execute
    run(
        text(
            "INSERT INTO tag_log (hospital_id, pregnancy_id, tag, operation, by, why, at) "
            "SELECT :h, w.pid, '瘢痕子宫', 'add', 'rule scarred-uterus@02fee0717ade/welcome', "
            "'诊断 O34.201 瘢痕子宫', :now - interval '30 days' FROM w"
        ),
        p,
    )
    run(
        text(
            "INSERT INTO tag_log (hospital_id, pregnancy_id, tag, operation, by, why, at) "
            "SELECT :h, w.pid, '妊娠期糖尿病', CASE WHEN i % 2 = 0 THEN 'add' ELSE 'remove' END, "
            "CASE WHEN i % 3 = 0 THEN 'staff:' || c.responsible_doctor_id "
            "ELSE 'event bench-his-' || w.g || '-' || i END, "
            "'复查结果', :now - interval '1 hour' * (i * 7) "
            "FROM w JOIN pregnancy_care c ON c.pregnancy_id = w.pid "
            f"CROSS JOIN generate_series(1, {RICH_TAGS}) i WHERE w.rich"
        ),
        p,
    )
    run(
        text(
            "INSERT INTO inbox_items (hospital_id, pregnancy_id, dedupe_key, kind, title, summary, body, "
            "filed_at, read_at) "
            "SELECT :h, w.pid, 'bench-inbox-' || w.g || '-' || i, 'push', '孕期营养小贴士', "
            "'每天吃什么更合适', "
            "'## 孕期营养\n\n每天适量摄入**优质蛋白**，多吃新鲜蔬菜。\n\n- 少量多餐\n- 控制甜食', "
            f":now - interval '1 day' * (i), CASE WHEN i % 2 = 0 THEN :now - interval '1 day' * (i) END "
            f"FROM w CROSS JOIN generate_series(1, {RICH_INBOX}) i WHERE w.rich"
        ),
        p,
    )
