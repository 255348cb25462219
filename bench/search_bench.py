"""Find a woman, measured (issue 21 item 2): a search by exact name and by ID number at 100k
pregnancies on PostgreSQL, gunicorn 2 workers, warm, 20 staff at once — before (main's code:
an exact name opened up to 5,000 sealed names, a week range compared the state's JSON) and
after (this branch: the name's keyed hash, the EDD column).

Target: p95 ≤ 100 ms server time for each of the two searches.

The hospital is ``bench/workspace_seed.py``'s (its women have 20k different names, each with its
keyed hash, and their own ID numbers). The database is seeded once; the same schema is then
served by gunicorn running the *before* code (a copy of another git revision, ``--before``,
``main`` by default, exported with ``git archive`` into a temporary folder and served from it)
and by this tree's code. Each phase is 20 staff at once, ``--rounds`` requests each, no think
time, one kind of search:

- ``api name``: ``POST /api/v1/pregnancies/search {"name": …}`` (signed, as the HIS or a tool
  would); on the *before* code an exact name alone is refused (``name-search-too-broad``: 100k
  candidates), so ``api name+red`` (the name narrowed by the colour red, ~2k candidates, every
  one's name opened) is the *before* figure of a name search;
- ``api id number``: ``{"id_number": …}``; ``api weeks``: ``{"week_from": 20, "week_to": 24}``;
- ``page name`` / ``page id number`` (after only): the 查找孕妇 form, POSTed to /staff/patients
  with a staff session, the page rendered.

Prints, per phase: p50/p95/p99 of the server's own time (gunicorn's access log, %(D)s) and of
what each client waited, the answers' statuses, and the load average before and after.

    .venv/bin/python bench/search_bench.py [--women 100000] [--clients 20] [--rounds 10]

Needs the local PostgreSQL (CAREPATH_BENCH_DATABASE_URL or --database); a fresh schema is
created and dropped. Never part of the pass/fail test run. Figures: docs/search.md.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from sqlalchemy import create_engine, text  # noqa: E402
from workspace import StaffClient, figures, free_port  # noqa: E402
from workspace_seed import HOSPITAL, Member, bench_id_number, bench_name, seed  # noqa: E402

from carepath.signing import sign_request  # noqa: E402
from carepath.store import tenants  # noqa: E402
from carepath.store.crypto import FieldCipher, new_key  # noqa: E402
from carepath.store.db import Database  # noqa: E402

SEARCH = "/api/v1/pregnancies/search"


class ApiClient:
    """One staff member's tool on the signed API: a keep-alive connection, each request signed
    with the integrator's key and naming the staff member (``X-Carepath-Staff``)."""

    def __init__(self, port: int, key: Any, staff_id: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.key, self.staff = key, str(staff_id)

    def search(self, query: dict[str, Any]) -> tuple[int, Any]:
        body = json.dumps(query, ensure_ascii=False).encode("utf-8")
        headers = sign_request(
            self.key.secret, "POST", SEARCH, timestamp=str(int(time.time())), key_id=self.key.key_id,
            body=body, staff=self.staff,
        )  # fmt: skip
        headers["Content-Type"] = "application/json"
        self.conn.request("POST", SEARCH, body=body, headers=headers)
        response = self.conn.getresponse()
        return response.status, json.loads(response.read() or b"null")


class PageClient(StaffClient):
    """A staff member's browser on 患者: the search form POSTed with the page's CSRF token."""

    def ready(self, username: str) -> None:
        self.login(username)
        _, page = self.request("GET", "/staff/patients")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token, "no search form on /staff/patients"
        self.token = token.group(1)

    def search(self, query: dict[str, Any]) -> tuple[int, Any]:
        status, page = self.request("POST", "/staff/patients", urlencode({"csrf_token": self.token, **query}))
        return status, page.count('class="woman found"')


def phase(
    clients: list[Any], queries: Callable[[random.Random], dict[str, Any]], rounds: int
) -> tuple[list[float], Counter[str]]:
    """Every client at once, ``rounds`` searches each; what each waited, and the answers."""
    waited: list[float] = []
    answers: Counter[str] = Counter()
    lock = threading.Lock()

    def work(client: Any, seed_: int) -> None:
        rng = random.Random(seed_)
        for _ in range(rounds):
            query = queries(rng)
            began = time.perf_counter()
            status, body = client.search(query)
            elapsed = (time.perf_counter() - began) * 1000
            found = (
                body
                if isinstance(body, int)
                else len(body.get("items", []))
                if status == 200
                else body.get("code")
            )
            with lock:
                waited.append(elapsed)
                answers[f"{status} {'found' if isinstance(found, int) and found else found}"] += 1

    threads = [threading.Thread(target=work, args=(c, n)) for n, c in enumerate(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return waited, answers


def served(access_log: Path, skip: int) -> list[float]:
    return [
        int(line.split()[3]) / 1000
        for line in access_log.read_text().splitlines()[skip:]
        if line.startswith("POST ")
    ]


def serve(
    code: Path, config: dict[str, str], workers: int, access_log: Path
) -> tuple[subprocess.Popen[bytes], int]:
    """gunicorn serving the ``carepath`` package found in ``code`` (its working directory comes
    first on ``sys.path``, before the editable install's finder)."""
    port = free_port()
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"), "--chdir", str(code),
            "--workers", str(workers), "--bind", f"127.0.0.1:{port}",
            "--log-level", "warning", "--timeout", "300", "--access-logfile", str(access_log),
            "--access-logformat", "%(m)s %(U)s?%(q)s %(s)s %(D)s", "carepath.webapi:create_app()",
        ],
        env={**os.environ, **config},
        cwd=code,
    )  # fmt: skip
    for _ in range(300):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/healthz")
            conn.getresponse().read()
            break
        except OSError:
            time.sleep(0.2)
    return server, port


def load() -> str:
    return Path("/proc/loadavg").read_text().strip()


def measure(
    label: str, port: int, key: Any, members: list[Member], *, women: int, rounds: int, access_log: Path,
    pages: bool,
) -> None:  # fmt: skip
    def name(rng: random.Random) -> dict[str, Any]:
        return {"name": bench_name(rng.randint(1, women))}

    def name_red(rng: random.Random) -> dict[str, Any]:
        return {**name(rng), "risk_colour": "red"}

    def id_number(rng: random.Random) -> dict[str, Any]:
        return {"id_number": bench_id_number(rng.randint(1, women))}

    def weeks(_rng: random.Random) -> dict[str, Any]:
        return {"week_from": 20, "week_to": 24}

    api = [ApiClient(port, key, m.staff_id) for m in members]
    kinds: list[tuple[str, list[Any], Callable[[random.Random], dict[str, Any]]]] = [
        ("api name", api, name),
        ("api name+red", api, name_red),
        ("api id number", api, id_number),
        ("api weeks", api, weeks),
    ]
    if pages:
        browsers = []
        for m in members:
            browser = PageClient(port)
            browser.ready(m.username)
            browsers.append(browser)
        kinds += [("page name", browsers, name), ("page id number", browsers, id_number)]
    for kind, clients, queries in kinds:
        phase(clients, queries, 1)  # warm: every worker, PostgreSQL's pages
        skip = len(access_log.read_text().splitlines())
        before = load()
        waited, answers = phase(clients, queries, rounds)
        after = load()
        print(f"{label} {kind:15} server time:   {figures(served(access_log, skip))}")
        print(f"{'':{len(label)}} {'':15} client waited: {figures(waited)}")
        print(f"{'':{len(label)}} {'':15} answers {dict(answers)}; load {before} -> {after}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--women", type=int, default=100_000)
    parser.add_argument("--tasks", type=int, default=2_000, help="open tasks (the seed's; not searched)")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--before", default="main", help="the git revision measured as before")
    parser.add_argument("--after-only", action="store_true", help="measure this tree only")
    parser.add_argument(
        "--database",
        default=os.environ.get(
            "CAREPATH_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        ),
    )
    args = parser.parse_args()

    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(args.database, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    url = f"{args.database}{'&' if '?' in args.database else '?'}options=-csearch_path%3D{schema}"
    config = {
        "CAREPATH_DATABASE_URL": url,
        "CAREPATH_FIELD_KEYS": "k1:" + new_key(),
        "CAREPATH_LOOKUP_KEY": new_key(),
        "CAREPATH_SECRET_KEY": new_key(),
    }
    folder = Path(tempfile.mkdtemp())
    old_code = folder / "before"
    old_code.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", args.before, "carepath"], check=True, capture_output=True
    )
    subprocess.run(["tar", "-x", "-C", str(old_code)], input=archive.stdout, check=True)
    server = None
    try:
        cipher = FieldCipher.from_config(config["CAREPATH_FIELD_KEYS"], config["CAREPATH_LOOKUP_KEY"])
        print(f"load before seeding: {load()}")
        seeded = seed(url, cipher, args.women, args.tasks, datetime.now(UTC))
        db = Database(url)
        with db.transaction() as session:
            key = tenants.create_api_key(session, cipher, HOSPITAL, "search-bench", datetime.now(UTC))
        with db.reading() as session:
            named = session.execute(
                text("SELECT count(*) FROM patients WHERE name_hash IS NOT NULL")
            ).scalar()
            dated = session.execute(text("SELECT count(*) FROM pregnancies WHERE edd IS NOT NULL")).scalar()
        db.dispose()
        print(
            f"seeded {args.women} women in {seeded.seconds:.0f} s ({seeded.size}); "
            f"{named} named, {dated} dated"
        )
        members = seeded.members[: args.clients]
        runs = [("before", old_code, False), ("after ", ROOT, True)][1 if args.after_only else 0 :]
        for label, code, pages in runs:
            access_log = folder / f"access-{label.strip()}.log"
            access_log.touch()
            server, port = serve(code, config, args.workers, access_log)
            code_name = args.before if label == "before" else "this tree"
            print(
                f"{label}: {code_name}, gunicorn {args.workers} workers, "
                f"{len(members)} staff at once, {args.rounds} searches each"
            )
            measure(
                label,
                port,
                key,
                members,
                women=args.women,
                rounds=args.rounds,
                access_log=access_log,
                pages=pages,
            )
            server.terminate()
            server.wait()
            server = None
    finally:
        if server is not None:
            server.terminate()
            server.wait()
        with admin.connect() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


if __name__ == "__main__":
    main()
