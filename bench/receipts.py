"""WeChat delivery callbacks and the inbox API, in process (Flask's test client, SQLite in a
temporary folder): callbacks recorded per second against an outbox of sent rows, and the
latency of one inbox page for a pregnancy with many items.

.venv/bin/python bench/receipts.py [rows] [postgresql+psycopg://user@host/db]

With a PostgreSQL URL it runs in a fresh schema there (dropped at the end).
"""

from __future__ import annotations

import base64
import hashlib
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, insert, select, text

from carepath.signing import sign_request
from carepath.store import tenants
from carepath.store.db import upgrade
from carepath.store.models import ChannelBinding, InboxItem, OutboxRow, Patient, Pregnancy
from carepath.webapi import create_app

NOW = datetime(2026, 7, 10, 2, 0, tzinfo=UTC)
TOKEN, APPID, HOSPITAL = "bench-token", "wx-bench", "bench"


def main(rows: int, pg_url: str | None) -> None:
    folder = Path(tempfile.mkdtemp())
    url = f"sqlite:///{folder / 'bench.db'}"
    if pg_url:
        admin, schema = create_engine(pg_url), f"bench_{os.getpid()}"
        with admin.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        url = f"{pg_url}?options=-csearch_path%3D{schema}"
    try:
        run(folder, url, rows)
    finally:
        if pg_url:
            with admin.begin() as conn:
                conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))


def run(folder: Path, url: str, rows: int) -> None:
    upgrade(url)
    (folder / "channels.yaml").write_text(
        f"hospital: {HOSPITAL}\nchannels:\n  wechat_template:\n    appid: {APPID}\n"
        "    callback_token_env: BENCH_CALLBACK_TOKEN\n",
        encoding="utf-8",
    )
    os.environ["BENCH_CALLBACK_TOKEN"] = TOKEN
    key = base64.b64encode(b"B" * 32).decode()
    app = create_app(
        {
            "DATABASE_URL": url,
            "FIELD_KEYS": f"k1:{key}",
            "LOOKUP_KEY": key,
            "CHANNELS_CONFIG": str(folder / "channels.yaml"),
            "CLOCK": lambda: NOW,
        }
    )
    db = app.extensions["carepath.db"]
    with db.transaction() as session:
        tenants.ensure_hospital(session, HOSPITAL, "bench", NOW)
        api_key = tenants.create_api_key(session, app.extensions["carepath.cipher"], HOSPITAL, "mp", NOW)
        session.execute(
            insert(Patient),
            [{"hospital_id": HOSPITAL, "his_patient_id": f"p{i}", "created_at": NOW} for i in range(rows)],
        )
        ids = list(session.scalars(select(Patient.id).order_by(Patient.id)))
        session.execute(
            insert(Pregnancy),
            [
                {
                    "id": f"g{i}",
                    "hospital_id": HOSPITAL,
                    "patient_id": pid,
                    "number": 1,
                    "status": "pregnant",
                    "state": {},
                    "created_at": NOW,
                    "updated_at": NOW,
                }
                for i, pid in enumerate(ids)
            ],
        )
        session.execute(
            insert(ChannelBinding),
            [
                {
                    "hospital_id": HOSPITAL,
                    "patient_id": pid,
                    "kind": "wechat_oa",
                    "account": APPID,
                    "value": f"o-{i}",
                    "bound_at": NOW,
                }
                for i, pid in enumerate(ids)
            ],
        )
        session.execute(
            insert(OutboxRow),
            [
                {
                    "hospital_id": HOSPITAL,
                    "pregnancy_id": f"g{i}",
                    "dedupe_key": f"k{i}",
                    "pathway_id": "p",
                    "version": "1",
                    "rule_id": "r",
                    "kind": "remind",
                    "params": {},
                    "due_at": NOW,
                    "channels": [],
                    "enrolment_id": "e",
                    "why": "bench",
                    "status": "sent",
                    "attempts": 1,
                    "created_at": NOW,
                    "updated_at": NOW,
                    "channel": "wechat_template",
                    "provider_message_id": str(100000 + i),
                    "sent_at": NOW,
                }
                for i in range(rows)
            ],
        )
        session.execute(insert(InboxItem), [
            {"hospital_id": HOSPITAL, "pregnancy_id": "g0", "dedupe_key": f"i{i}", "kind": "push",
             "title": f"第{i}课", "summary": "s", "body": "正文" * 200,
             "filed_at": NOW + timedelta(minutes=i)}
            for i in range(500)])  # fmt: skip

    client = app.test_client()
    signature = hashlib.sha1("".join(sorted([TOKEN, "1", "n"])).encode()).hexdigest()
    query = {"signature": signature, "timestamp": "1", "nonce": "n"}
    started = time.perf_counter()
    for i in range(rows):
        body = (
            f"<xml><FromUserName>o-{i}</FromUserName><CreateTime>1783666800</CreateTime>"
            f"<Event>TEMPLATESENDJOBFINISH</Event><MsgID>{100000 + i}</MsgID><Status>success</Status></xml>"
        ).encode()
        response = client.post(f"/wechat/{HOSPITAL}/{APPID}/events", query_string=query, data=body)
        assert response.status_code == 200
    elapsed = time.perf_counter() - started
    with db.reading() as session:
        delivered = len(
            list(session.scalars(select(OutboxRow.id).where(OutboxRow.receipt_status == "delivered")))
        )
    print(
        f"{url.split(':', maxsplit=1)[0]}: callbacks: {rows} in {elapsed:.2f} s = "
        f"{rows / elapsed:,.0f}/s ({delivered} rows delivered)"
    )

    latencies = []
    for _ in range(100):
        path = "/api/v1/pregnancies/g0/inbox?limit=20"
        headers = sign_request(api_key.secret, "GET", path, timestamp=str(int(NOW.timestamp())),
                               key_id=api_key.key_id, body=b"")  # fmt: skip
        t0 = time.perf_counter()
        assert client.get(path, headers=headers).status_code == 200
        latencies.append((time.perf_counter() - t0) * 1000)
    latencies.sort()
    print(
        f"inbox page (20 of 500 items): median {statistics.median(latencies):.1f} ms, "
        f"p95 {latencies[94]:.1f} ms"
    )
    db.dispose()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000, sys.argv[2] if len(sys.argv) > 2 else None)
