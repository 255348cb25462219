"""Exports stay bounded in memory: the outbox export of N push records (default 100,000) as CSV
and as XLSX, through the API on SQLite in a temporary folder; time and peak Python heap
(tracemalloc) of each, and the peak RSS of the process.

.venv/bin/python bench/exports.py [rows]

Target: the heap peak of an export does not grow with its rows (CSV streams 1,000 rows per
statement; XLSX is written in openpyxl's write-only mode to a temporary file).
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert

from carepath.signing import sign_request
from carepath.store import tenants
from carepath.store.db import upgrade
from carepath.store.models import OutboxRow, Patient, Pregnancy, Staff
from carepath.webapi import create_app
from tests.conftest import FIELD_KEYS, LOOKUP_KEY, NOW, Clock


def seed(app: object, rows: int) -> tuple[str, str, int]:
    db = app.extensions["carepath.db"]  # type: ignore[attr-defined]
    cipher = app.extensions["carepath.cipher"]  # type: ignore[attr-defined]
    with db.transaction() as session:
        tenants.ensure_hospital(session, "a", "hospital a", NOW)
        key = tenants.create_api_key(session, cipher, "a", "his", NOW)
        staff = Staff(hospital_id="a", name="护士", role="nurse")
        session.add(staff)
        patients = [
            Patient(
                hospital_id="a",
                his_patient_id=f"p-{i:05d}",
                name_sealed=cipher.seal("王小红"),
                phone_sealed=cipher.seal("13812345678"),
                created_at=NOW,
            )
            for i in range(1000)
        ]
        session.add_all(patients)
        session.flush()
        for i, patient in enumerate(patients):
            session.add(
                Pregnancy(
                    id=f"preg-{i:05d}",
                    hospital_id="a",
                    patient_id=patient.id,
                    number=1,
                    status="pregnant",
                    state={},
                    created_at=NOW,
                    updated_at=NOW,
                )
            )
        session.flush()
        staff_id = staff.id
    common = {
        "hospital_id": "a",
        "pathway_id": "gdm",
        "version": "v1",
        "rule": None,
        "kind": "push",
        "params": {},
        "due_at": NOW,
        "channels": ["inbox"],
        "enrolment_id": "e",
        "why": "GDM 管理: 每周推送",
        "status": "sent",
        "attempts": 1,
        "created_at": NOW,
        "updated_at": NOW,
        "channel": "inbox",
        "sent_at": NOW,
    }
    del common["rule"]
    with db.transaction() as session:
        for start in range(0, rows, 10_000):
            session.execute(
                insert(OutboxRow),
                [
                    {
                        **common,
                        "pregnancy_id": f"preg-{n % 1000:05d}",
                        "dedupe_key": f"k{n}",
                        "rule_id": f"rule-{n % 7}",
                    }
                    for n in range(start, min(rows, start + 10_000))
                ],
            )
    return key.key_id, key.secret, staff_id


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/bench.db"
        upgrade(url)
        clock = Clock(NOW)
        app = create_app(
            {"DATABASE_URL": url, "FIELD_KEYS": FIELD_KEYS, "LOOKUP_KEY": LOOKUP_KEY, "CLOCK": clock}
        )
        key_id, secret, staff_id = seed(app, rows)
        client = app.test_client()
        for file_format in ("csv", "xlsx"):
            path = f"/api/v1/outbox/export?format={file_format}"

            def export(path: str = path) -> int:
                headers = sign_request(
                    secret,
                    "GET",
                    path,
                    timestamp=str(int(NOW.timestamp())),
                    key_id=key_id,
                    body=b"",
                    staff=str(staff_id),
                )
                response = client.get(path, headers=headers, buffered=False)
                assert response.status_code == 200, response.status_code
                size = sum(len(chunk) for chunk in response.response)
                response.close()
                return size

            started = time.perf_counter()
            size = export()
            elapsed = time.perf_counter() - started
            # The heap is measured on a second run: tracemalloc slows Python down several times.
            tracemalloc.start()
            export()
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            print(
                f"{file_format}: {rows} rows, {size / 1e6:.1f} MB in {elapsed:.1f} s "
                f"({rows / elapsed:,.0f} rows/s), Python heap peak {peak / 1e6:.1f} MB"
            )
        app.extensions["carepath.db"].dispose()
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
