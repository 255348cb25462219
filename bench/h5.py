"""Her pages benchmark (issues 18 and 19): registration submit, the sign-in callback, and her
home, inbox and inbox item pages on gunicorn (2 workers) and PostgreSQL, warm, 50 women at once,
each in her own browser session.

Prints p50/p95/p99 of the submit (POST /h5/register: the form checked, her patient, pregnancy,
risk screen, consents, bindings, source count and inbox copies written in one transaction, her
session started) and of the WeChat sign-in callback (GET /h5/sign-in/wechat/return: the state
checked, the code claimed once, exchanged at the fake WeChat over loopback, her binding found,
her session started): the server's own request time (gunicorn's access log, queueing in front
of the two workers excluded) and the time each woman waited; the workers' CPU per woman (the
work itself, which other load on a shared machine stretches far less than the times); and what
dominates one submit (the service's parts timed in this process on the same database).

Her pages (issue 19: p95 server time ≤ 50 ms): the women registered above, signed in, each open
her home (GET /h5/: GA, EDD, lesson, checkups, unread count), her inbox (GET /h5/inbox) and the
newest item of it (GET /h5/inbox/<id>, marked read the first time; a woman whose week had no
item due yet has none) and the form sent to her (GET /h5/forms/<id>, not yet answered), all 50
at once, a few rounds.

Her form submit (issue 19: ≤ 150 ms with its evaluation): every registered woman is sent the
home BP log through the engine (a hypertension diagnosis, O13, posted as the HIS would, dated
25 hours ago: the bp-log rule's first reading is due; its inbox copy filed as the dispatcher
would, ``inbox_now``). Each round 50 women at once open the form (CSRF and submission tokens
as a browser reads them), then submit it, then open her answer (the page the submit redirects
to), each step all 50 at once. Rounds alternate: a normal reading (128/82, no symptoms), then
the worst case, 166/104 with a headache (the evaluation opens two urgent doctor tasks and files
the urgent advice in her inbox in the submit's transaction; her answer page shows it). The
bench hospital's send window is the whole day, so the BP log is due whatever the hour.

    .venv/bin/python bench/h5.py [--women 50] [--rounds 4] [--database postgresql+psycopg://...]

Needs the local PostgreSQL (CAREPATH_BENCH_DATABASE_URL or --database); a fresh schema is
created and dropped. Never part of the pass/fail test run.
"""

from __future__ import annotations

import argparse
import cProfile
import http.client
import itertools
import os
import pstats
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from carepath.delivery import inbox_now  # noqa: E402
from carepath.engine import identity  # noqa: E402
from carepath.engine.catalogue import PATHWAYS_DIR  # noqa: E402
from carepath.store import (  # noqa: E402
    consents,
    demo,
    events,
    hospital_settings,
    registration,
    sources,
    tenants,
    wakeups,
)
from carepath.store.crypto import FieldCipher, new_key  # noqa: E402
from carepath.store.db import Database, upgrade  # noqa: E402
from carepath.store.registration_form import NOTICE_VERSION, check_form, screen_form  # noqa: E402
from carepath.store.scope import Actor  # noqa: E402
from carepath.webapi import create_app  # noqa: E402
from tests.fakes.providers import FakeProviders  # noqa: E402

HOSPITAL = "bench"
APPID = "wx-hospital"
OPENID = "o-bench-1"
#: The BP log's answers: a normal reading, and the worst case (severe BP with a danger symptom:
#: two urgent doctor tasks and the urgent advice filed in her inbox, all in the submit).
NORMAL_READING = {"time_of_day": "evening", "systolic": "128", "diastolic": "82", "symptoms": "none"}
#: Severe submits profiled in this process (the first 3 warm it).
PROFILED = 23
SEVERE_READING = {"time_of_day": "evening", "systolic": "166", "diastolic": "104", "symptoms": "headache"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))] if ordered else float("nan")


_numbers = itertools.count(1)


def id_number(n: int) -> str:
    """A synthetic resident number (a woman's even sequence digit), one per ``n`` below 500,000."""
    body = f"3301{n // 500 % 100:02d}1990041{n % 10}{(2 * (n % 500)) % 1000:03d}"
    return body + identity.check_digit(body)


def fields(n: int) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    for item in screen_form().items:
        if item.type == "single" and item.required:
            answers[f"screen.{item.id}"] = item.choices[0].value
        elif item.type == "multiple" and item.required:
            exclusive = [c.value for c in item.choices if c.exclusive]
            answers[f"screen.{item.id}"] = exclusive[0] if exclusive else item.choices[0].value
    lmp = datetime.fromtimestamp(time.time() - (60 + n % 150) * 86400, UTC).date().isoformat()
    return {
        "name": "试用孕妇",
        "id_type": "resident",
        "id_number": id_number(n),
        "phone": f"139{n:08d}",
        "dating_method": "lmp",
        "lmp": lmp,
        "height_cm": "160",
        "weight_kg": "55",
        "gravida": "1",
        "para": "0",
        "notice": NOTICE_VERSION,
        "consent_health": "yes",
        "consent_wechat": "yes",
        "consent_sms": "yes",
        **answers,
    }


class Browser:
    """One woman's browser: one keep-alive connection and her cookie."""

    def __init__(self, port: int, n: int = 0) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.cookie = ""
        self.location = ""
        self.n = n  # her number (``fields``): the HIS finds her by her id number
        self.form = ""  # her BP log's page, once sent to her
        self.page = ""  # the last page she opened

    def request(self, method: str, path: str, body: str | None = None) -> tuple[int, str]:
        headers = {"Cookie": self.cookie} if self.cookie else {}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.conn.request(method, path, body=body, headers=headers)
        response = self.conn.getresponse()
        found = re.match(r"(carepath_h5=[^;]*)", response.getheader("Set-Cookie") or "")
        if found:
            self.cookie = found.group(1)
        self.location = response.getheader("Location") or ""
        return response.status, response.read().decode("utf-8")


#: The women whose registration succeeded, signed in (her pages' rounds use them).
SIGNED_IN: list[Browser] = []


def woman(port: int, code: str, n: int, results: tuple[list[float], list[str], threading.Lock]) -> None:
    times, errors, lock = results
    browser = Browser(port, n)
    browser.request("GET", f"/h5/s/{code}")
    status, page = browser.request("GET", "/h5/register")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
    token = re.search(r'name="token" value="([^"]+)"', page)
    if status != 200 or not csrf or not token:
        with lock:
            errors.append(f"form page {status}")
        return
    body = urlencode({"csrf_token": csrf.group(1), "token": token.group(1), **fields(n)}, doseq=True)
    began = time.perf_counter()
    status, _ = browser.request("POST", "/h5/register", body)
    elapsed = (time.perf_counter() - began) * 1000
    with lock:
        if status == 302:
            times.append(elapsed)
            SIGNED_IN.append(browser)
        else:
            errors.append(f"submit {status}")


def round_of(port: int, code: str, women: int) -> tuple[list[float], list[str]]:
    """``women`` at once, each opening the scan URL, the form, and submitting it."""
    times: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    threads = [
        threading.Thread(target=woman, args=(port, code, next(_numbers), (times, errors, lock)))
        for _ in range(women)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return times, errors


def signing_in(port: int, fake_port: int, results: tuple[list[float], list[str], threading.Lock]) -> None:
    """One woman inside WeChat: her sign-in page, WeChat's authorisation (the fake), the callback."""
    times, errors, lock = results
    browser = Browser(port)
    status, _ = browser.request("GET", f"/h5/sign-in/wechat?hospital={HOSPITAL}&next=/h5/inbox")
    authorize = browser.location
    wechat = http.client.HTTPConnection("127.0.0.1", fake_port, timeout=60)
    wechat.request("GET", authorize.split(str(fake_port), 1)[1])
    answer = wechat.getresponse()
    answer.read()
    back = answer.getheader("Location") or ""
    began = time.perf_counter()
    status, _ = browser.request("GET", back.split(str(port), 1)[1])
    elapsed = (time.perf_counter() - began) * 1000
    with lock:
        if status == 302 and browser.location.rsplit(str(port), 1)[-1] in ("/h5/", "/h5/inbox"):  # signed in
            times.append(elapsed)
        else:
            errors.append(f"callback {status}")


def sign_in_round(port: int, fake_port: int, women: int) -> tuple[list[float], list[str]]:
    times: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    threads = [
        threading.Thread(target=signing_in, args=(port, fake_port, (times, errors, lock)))
        for _ in range(women)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return times, errors


def reading(browser: Browser, results: tuple[list[float], list[str], threading.Lock]) -> None:
    """One signed-in woman: her home, her inbox, her newest item, the form sent to her."""
    times, errors, lock = results
    began = time.perf_counter()
    home, _ = browser.request("GET", "/h5/")
    listing, page = browser.request("GET", "/h5/inbox")
    newest = re.search(r'href="(/h5/inbox/\d+)"', page)
    item, _ = browser.request("GET", newest.group(1)) if newest else (200, "")  # none filed yet
    form, page = browser.request("GET", browser.form)
    elapsed = (time.perf_counter() - began) * 1000
    with lock:
        if (home, listing, item, form) == (200, 200, 200, 200) and 'name="submission"' in page:
            times.append(elapsed)
        else:
            errors.append(f"home {home}, inbox {listing}, item {item}, form {form}")


def reading_round(browsers: list[Browser]) -> tuple[list[float], list[str]]:
    times: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    threads = [threading.Thread(target=reading, args=(b, (times, errors, lock))) for b in browsers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return times, errors


def women_with_forms(
    url: str, config: dict[str, str], count: int, port: int, fake: FakeProviders
) -> list[Browser]:
    """``count`` women who were sent the home BP log through the engine, each signed in in her
    own browser. Each registered yesterday (at this hour, her WeChat bound), and the HIS posted
    her hypertension diagnosis (O13) then: she entered the hypertension plan, whose bp-log rule
    sends the form from the day after. Today's wake-up (the scheduler's ``wake_due``) sends it,
    and her inbox copy is filed as the dispatcher would (``inbox_now``). She signs in through
    WeChat and finds the form in her list of forms."""
    database = Database(url)
    cipher = FieldCipher.from_config(config["CAREPATH_FIELD_KEYS"], config["CAREPATH_LOOKUP_KEY"])
    now = datetime.now(UTC)
    yesterday = datetime.fromtimestamp(now.timestamp() - 24 * 3600, UTC)
    with database.transaction() as session:
        tenants.create_api_key(session, cipher, HOSPITAL, "his", yesterday)
        integrator = session.scalar(text("SELECT id FROM integrators WHERE name = 'his'"))
    his = Actor(HOSPITAL, "integrator", str(integrator))
    numbers = [next(_numbers) + 200_000 for _ in range(count)]
    pregnancies = []
    try:
        for n in numbers:
            values = fields(n)
            form = check_form(
                lambda k, v=values: str(v.get(k, "")), lambda k, v=values: [str(v.get(k, ""))], yesterday
            )
            form.extra["openid"] = {"appid": APPID, "openid": f"o-bench-{n}"}
            registration.register(database, cipher, HOSPITAL, f"forms-{n}", form, now=yesterday)
            answer = events.post_event(
                database, cipher, his,
                {"id": f"dx-{n}", "type": "diagnosis.added", "occurred_at": yesterday.isoformat(),
                 "patient": {"id_number": id_number(n)}, "data": {"code": "O13", "name": "妊娠期高血压"}},
                yesterday,
            )  # fmt: skip
            pregnancies.append(str(answer.body["pregnancy"]))
        now = datetime.now(UTC)
        wakeups.wake_due(database, now)
        for pregnancy in pregnancies:
            with database.transaction() as session:
                inbox_now.file_due_now(session, HOSPITAL, pregnancy, now)
    finally:
        database.dispose()
    browsers = []
    fake_port = int(fake.base_url.rsplit(":", 1)[1])
    for n in numbers:
        fake.web.openid = f"o-bench-{n}"
        browser = Browser(port, n)
        browser.request("GET", f"/h5/sign-in/wechat?hospital={HOSPITAL}&next=/h5/forms")
        wechat = http.client.HTTPConnection("127.0.0.1", fake_port, timeout=60)
        wechat.request("GET", browser.location.split(str(fake_port), 1)[1])
        answer = wechat.getresponse()
        answer.read()
        browser.request("GET", (answer.getheader("Location") or "").split(str(port), 1)[1])
        _, page = browser.request("GET", "/h5/forms")
        for link in re.findall(r'href="(/h5/forms/\d+)"', page):  # another form may be due too (EPDS)
            if 'name="systolic"' in browser.request("GET", link)[1]:
                browser.form = link
                break
        else:
            raise SystemExit(f"woman {n} was sent no BP log (signed in: {browser.location})")
        browsers.append(browser)
    fake.web.openid = OPENID
    return browsers


def all_at_once(
    browsers: list[Browser], step: Callable[[Browser], str | None]
) -> tuple[list[float], list[str]]:
    """``step`` for every woman at once; its time as each waited, and what failed (its message)."""
    times: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def one(browser: Browser) -> None:
        began = time.perf_counter()
        failed = step(browser)
        elapsed = (time.perf_counter() - began) * 1000
        with lock:
            if failed:
                errors.append(failed)
            else:
                times.append(elapsed)

    threads = [threading.Thread(target=one, args=(b,)) for b in browsers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return times, errors


def open_form(browser: Browser) -> str | None:
    status, browser.page = browser.request("GET", browser.form)
    return None if status == 200 and 'name="submission"' in browser.page else f"form page {status}"


def submitting(reading: dict[str, str]) -> Callable[[Browser], str | None]:
    def submit(browser: Browser) -> str | None:
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', browser.page)
        token = re.search(r'name="submission" value="([^"]+)"', browser.page)
        if not csrf or not token:
            return "no tokens on the form page"
        today = datetime.now(UTC).date().isoformat()
        body = urlencode(
            {"csrf_token": csrf.group(1), "submission": token.group(1), "measured_on": today, **reading}
        )
        status, page = browser.request("POST", browser.form, body)
        if status == 303 and browser.location.endswith(browser.form):
            return None
        said = re.findall(r'role="alert"[^>]*>([^<]+)<', page)
        return f"submit {status} {said} (woman {browser.n}, {browser.form}, measured on {today})"

    return submit


def open_answer(severe: bool) -> Callable[[Browser], str | None]:
    def answer(browser: Browser) -> str | None:
        status, page = browser.request("GET", browser.form)
        shown = 'name="submission"' not in page and (not severe or 'id="urgent"' in page)
        return None if status == 200 and shown else f"answer page {status} (urgent advice shown: {shown})"

    return answer


Waits = list[tuple[list[float], list[str]]]
Spans = list[tuple[int, int]]  # lines of the access log: [first, last)


def form_rounds(groups: list[list[Browser]], access_log: Path) -> dict[str, tuple[Waits, Spans]]:
    """Each group at once: its form pages, then its submits, then its answers; normal and
    severe readings alternate by group. What each step waited, and its access log lines."""
    steps: dict[str, tuple[Waits, Spans]] = {}
    for number, group in enumerate(groups):
        severe = number % 2 == 1
        kind = "severe" if severe else "normal"
        for name, step in (
            (f"form page before a {kind} submit", open_form),
            (f"submit, {kind} reading", submitting(SEVERE_READING if severe else NORMAL_READING)),
            (f"her answer, {kind} reading", open_answer(severe)),
        ):
            first = len(access_log.read_text().splitlines())
            waited = all_at_once(group, step)
            for _ in range(100):  # gunicorn logs a request after its answer: wait for every line
                if len(access_log.read_text().splitlines()) >= first + len(group):
                    break
                time.sleep(0.02)
            waits, lines = steps.setdefault(name, ([], []))
            waits.append(waited)
            lines.append((first, len(access_log.read_text().splitlines())))
    return steps


def where(filename: str) -> str:
    """The package a profiled function belongs to (carepath's by subpackage)."""
    if "/carepath/" in filename:
        parts = filename.split("/carepath/", 1)[1].split("/")
        return "carepath." + (parts[0] if len(parts) > 1 else parts[0].removesuffix(".py"))
    for name in ("sqlalchemy", "psycopg", "jinja2", "werkzeug", "flask", "jsonschema", "markdown", "yaml"):
        if f"/{name}/" in filename:
            return name
    return (
        "python (stdlib, builtins: I/O waits on PostgreSQL included)"
        if "site-packages" not in filename
        else "other"
    )


def profile_home(config: dict[str, str], browsers: list[Browser]) -> None:
    """Her home in this process for each woman (the first 3 warm it), under cProfile: the
    carepath functions with most time per page."""
    os.environ.update(config)
    app = create_app()
    profiler = cProfile.Profile()
    timings = []
    for number, browser in enumerate(browsers):
        client = app.test_client()
        name, value = browser.cookie.split("=", 1)
        client.set_cookie(name, value, path="/h5")
        began = time.perf_counter()
        if number >= 3:
            profiler.enable()
        answer = client.get("/h5/")
        if number >= 3:
            profiler.disable()
            timings.append((time.perf_counter() - began) * 1000)
        assert answer.status_code == 200, answer.status_code
    stats = pstats.Stats(profiler)
    print(f"her home in this process, under cProfile: median {sorted(timings)[len(timings) // 2]:.0f} ms")
    for (filename, line, function), (_, calls, _, cumulative, _) in sorted(
        stats.stats.items(),  # type: ignore[attr-defined]
        key=lambda kv: -kv[1][3],
    )[:40]:
        if "/carepath/" in filename:
            short = filename.split("/carepath/", 1)[1]
            each = cumulative / len(timings) * 1000
            print(f"    {each:6.1f} ms  {short}:{line} {function} ({calls // len(timings)} calls)")


def profile_submits(config: dict[str, str], browsers: list[Browser], reading: dict[str, str]) -> None:
    """Her submits in this process (the app as gunicorn runs it, her browser's cookie), the
    first few to warm, then the rest under cProfile: where one submit's time goes, by package."""
    os.environ.update(config)
    app = create_app()
    profiler = cProfile.Profile()
    timings = []
    for number, browser in enumerate(browsers):
        client = app.test_client()
        name, value = browser.cookie.split("=", 1)
        client.set_cookie(name, value, path="/h5")
        page = client.get(browser.form).get_data(as_text=True)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
        token = re.search(r'name="submission" value="([^"]+)"', page)
        assert csrf and token, f"no form to submit: {page[:300]}"
        data = {"csrf_token": csrf.group(1), "submission": token.group(1), **reading}
        data["measured_on"] = datetime.now(UTC).date().isoformat()
        warm = number < 3
        began = time.perf_counter()
        if not warm:
            profiler.enable()
        answer = client.post(browser.form, data=data)
        if not warm:
            profiler.disable()
            timings.append((time.perf_counter() - began) * 1000)
        assert answer.status_code == 303, answer.status_code
    stats = pstats.Stats(profiler)
    total = sum(t for _, _, t, _, _ in stats.stats.values())  # type: ignore[attr-defined]
    by_package: dict[str, float] = defaultdict(float)
    for (filename, _, _), (_, _, own, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        by_package[where(filename)] += own
    median = sorted(timings)[len(timings) // 2]
    print(
        f"her severe submit in this process, under cProfile: median {median:.0f} ms "
        f"({len(timings)} submits); its time by package (own time):"
    )
    for name, own in sorted(by_package.items(), key=lambda kv: -kv[1])[:10]:
        print(f"  {name:60s} {own / total * 100:5.1f} %")
    print("  the functions with most cumulative time:")
    stats.sort_stats("cumulative")
    for (filename, line, name), (_, calls, _, cumulative, _) in sorted(
        stats.stats.items(),
        key=lambda kv: -kv[1][3],  # type: ignore[attr-defined]
    )[:40]:
        if "/carepath/" in filename:
            short = filename.split("/carepath/", 1)[1]
            each = cumulative / len(timings) * 1000
            print(f"    {each:6.1f} ms  {short}:{line} {name} ({calls // len(timings)} calls)")


@contextmanager
def timed(parts: dict[str, list[float]], name: str) -> Iterator[None]:
    began = time.perf_counter()
    try:
        yield
    finally:
        parts[name].append((time.perf_counter() - began) * 1000)


def breakdown(url: str, config: dict[str, str], count: int) -> dict[str, float]:
    """One submit's parts, timed in this process (median ms over ``count`` women): the form's
    checks, the registration event (patient, pregnancy, evaluation of every pathway), the risk
    screen's event, consents and bindings, the inbox copies."""
    database = Database(url)
    cipher = FieldCipher.from_config(config["CAREPATH_FIELD_KEYS"], config["CAREPATH_LOOKUP_KEY"])
    parts: dict[str, list[float]] = defaultdict(list)
    originals: dict[str, Any] = {}

    def wrap(owner: Any, name: str, label: Callable[..., str]) -> None:
        original = getattr(owner, name)
        originals[name] = (owner, original)

        def timed_call(*args: Any, **kwargs: Any) -> Any:
            with timed(parts, label(*args, **kwargs)):
                return original(*args, **kwargs)

        setattr(owner, name, timed_call)

    wrap(events, "record", lambda *a, **k: f"event {a[3].type} (evaluation included)")
    wrap(consents, "record_consent", lambda *a, **k: "consents (7 rows)")
    wrap(consents, "bind", lambda *a, **k: "phone binding")
    try:
        for _ in range(count):
            n = next(_numbers) + 100_000
            values = fields(n)
            with timed(parts, "form checks"):
                form = check_form(
                    lambda k, v=values: str(v.get(k, "")),
                    lambda k, v=values: [str(v.get(k, ""))],
                    datetime.now(UTC),
                )

            def file_inbox(session: Any, row: Any, pregnancy: Any) -> None:
                with timed(parts, "inbox copies filed"):
                    inbox_now.file_due_now(session, row.hospital_id, pregnancy.id, datetime.now(UTC))

            with timed(parts, "whole submit (service)"):
                registration.register(
                    database,
                    cipher,
                    HOSPITAL,
                    uuid.uuid4().hex,
                    form,
                    now=datetime.now(UTC),
                    on_done=file_inbox,
                )
    finally:
        for name, (owner, original) in originals.items():
            setattr(owner, name, original)
        database.dispose()
    return {name: sorted(v)[len(v) // 2] * (len(v) / count) for name, v in parts.items()}


def prepare(url: str, config: dict[str, str]) -> str:
    upgrade(url)
    database = Database(url)
    now = datetime.now(UTC)
    demo.publish_examples(database, PATHWAYS_DIR, now)
    with database.transaction() as session:
        tenants.ensure_hospital(session, HOSPITAL, "bench hospital", now)
        hospital_settings.update(
            session,
            HOSPITAL,
            # the whole day is the send window: her BP log is due whatever the hour of the run
            {"drafts_allowed": True, "window_opens": "00:00", "window_closes": "23:59",
             "emergency_phone": "0571-87654321"},
            actor=Actor(HOSPITAL, "bench", "setup"),
            now=now,
        )  # fmt: skip
        code = sources.create(session, sources.plan(session, HOSPITAL, now), now, "bench").code
    cipher = FieldCipher.from_config(config["CAREPATH_FIELD_KEYS"], config["CAREPATH_LOOKUP_KEY"])
    values = fields(0)
    form = check_form(lambda k: str(values.get(k, "")), lambda k: [str(values.get(k, ""))], now)
    form.extra["openid"] = {"appid": APPID, "openid": OPENID}  # the woman who signs in, bound
    registration.register(database, cipher, HOSPITAL, "bench-bound", form, now=now)
    database.dispose()
    return code


def worker_cpu(server: subprocess.Popen[bytes]) -> float:
    """Seconds of CPU (user + system) gunicorn's workers have used so far (Linux /proc): the work
    per request, which other load on the machine stretches far less than the request's time."""
    used = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # a process that ended meanwhile
            continue
        if int(fields[1]) == server.pid:  # its parent is gunicorn's master
            used += int(fields[11]) + int(fields[12])  # utime, stime
    return used / os.sysconf("SC_CLK_TCK")


def report_cpu(server: subprocess.Popen[bytes], before: float, women: int, what: str) -> None:
    print(f"{what}: the workers' CPU per woman {(worker_cpu(server) - before) / women * 1000:.0f} ms")


def report(what: str, rounds: list[tuple[list[float], list[str]]]) -> None:
    times = [t for done, _ in rounds for t in done]
    failures = [e for _, errors in rounds for e in errors]
    print(
        f"{what} as each woman waited (queueing in front of the workers included): "
        f"p50 {percentile(times, 50):.0f} ms, p95 {percentile(times, 95):.0f} ms, "
        f"p99 {percentile(times, 99):.0f} ms ({len(times)} women, {len(failures)} errors "
        f"{sorted(set(failures))})"
    )


def report_server(
    access_log: Path, warm: int, prefix: str, what: str, spans: list[tuple[int, int]] | None = None
) -> None:
    lines = access_log.read_text().splitlines()
    chosen = [line for first, last in spans for line in lines[first:last]] if spans else lines[warm:]
    server_ms = [int(line.split()[3]) / 1000 for line in chosen if line.startswith(prefix)]
    print(
        f"{what}, server time (gunicorn's request time): p50 {percentile(server_ms, 50):.0f} ms, "
        f"p95 {percentile(server_ms, 95):.0f} ms, p99 {percentile(server_ms, 99):.0f} ms "
        f"({len(server_ms)} requests)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--women", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument(
        "--database",
        default=os.environ.get(
            "CAREPATH_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        ),
    )
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(args.database)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    url = f"{args.database}{'&' if '?' in args.database else '?'}options=-csearch_path%3D{schema}"
    config = {
        "CAREPATH_DATABASE_URL": url,
        "CAREPATH_FIELD_KEYS": "k1:" + new_key(),
        "CAREPATH_LOOKUP_KEY": new_key(),
        "CAREPATH_SECRET_KEY": new_key(),
    }
    server = None
    fake = FakeProviders().start()
    folder = Path(tempfile.mkdtemp())
    channels = {"hospital": HOSPITAL, "channels": {"wechat_template": {
        "appid": APPID, "secret_env": "CAREPATH_BENCH_WX_SECRET", "base_url": fake.base_url}}}  # fmt: skip
    (folder / "channels.yaml").write_text(yaml.safe_dump(channels), encoding="utf-8")
    config.update(
        CAREPATH_CHANNELS_CONFIG=str(folder / "channels.yaml"),
        CAREPATH_WECHAT_AUTHORIZE_URL=f"{fake.base_url}/connect/oauth2/authorize",
        CAREPATH_BENCH_WX_SECRET=fake.wechat_accounts[APPID],
    )
    fake_port = int(fake.base_url.rsplit(":", 1)[1])
    fake.web.openid = OPENID  # every woman signing in is "inside WeChat" as this bound woman
    try:
        code = prepare(url, config)
        port = free_port()
        access_log = folder / "access.log"
        server = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "gunicorn"),
                "--workers", str(args.workers), "--bind", f"127.0.0.1:{port}",
                "--log-level", "warning", "--timeout", "300", "--access-logfile", str(access_log),
                "--access-logformat", "%(m)s %(U)s %(s)s %(D)s", "carepath.webapi:create_app()",
            ],
            env={**os.environ, **config},
        )  # fmt: skip
        for _ in range(100):
            try:
                http.client.HTTPConnection("127.0.0.1", port, timeout=1).request("GET", "/healthz")
                break
            except OSError:
                time.sleep(0.1)
        round_of(port, code, 8)  # warm up: compile the library and load the forms in each worker
        sign_in_round(port, fake_port, 8)
        print(
            f"gunicorn {args.workers} sync workers, PostgreSQL, built-in library; "
            f"{args.rounds} rounds of {args.women} women at once"
        )
        warm, cpu = len(access_log.read_text().splitlines()), worker_cpu(server)
        report("registration submit", [round_of(port, code, args.women) for _ in range(args.rounds)])
        report_server(access_log, warm, "POST /h5/register ", "registration submit")
        report_cpu(server, cpu, args.women * args.rounds, "registration (scan URL, form page, submit)")
        warm, cpu = len(access_log.read_text().splitlines()), worker_cpu(server)
        report("sign-in callback", [sign_in_round(port, fake_port, args.women) for _ in range(args.rounds)])
        report_server(access_log, warm, "GET /h5/sign-in/wechat/return ", "sign-in callback")
        report_cpu(server, cpu, args.women * args.rounds, "sign-in (page, callback)")
        began = time.perf_counter()
        with_forms = women_with_forms(url, config, 8 + args.rounds * args.women + PROFILED, port, fake)
        took = time.perf_counter() - began
        print(f"({len(with_forms)} women sent the BP log through the engine and signed in, {took:.0f} s)")
        warming, registered, spare = with_forms[:8], with_forms[8:-PROFILED], with_forms[-PROFILED:]
        form_rounds([warming[:4], warming[4:]], access_log)  # warm: a submit of each kind per worker
        women = registered[: args.women]
        reading_round(women)  # warm: each woman's first look marks her item read
        warm, cpu = len(access_log.read_text().splitlines()), worker_cpu(server)
        report("home + inbox + item + form (4 pages)", [reading_round(women) for _ in range(args.rounds)])
        report_server(access_log, warm, "GET /h5/ ", "her home")
        report_server(access_log, warm, "GET /h5/inbox ", "her inbox")
        report_server(access_log, warm, "GET /h5/inbox/", "an inbox item")
        report_server(access_log, warm, "GET /h5/forms/", "her form page (not yet answered)")
        report_cpu(server, cpu, len(women) * args.rounds, "her pages (home, inbox, item, form)")
        groups = [registered[i : i + args.women] for i in range(0, len(registered), args.women)]
        cpu = worker_cpu(server)
        steps = form_rounds(groups[: args.rounds], access_log)
        for name, (waits, spans) in steps.items():
            report(name, waits)
            method = "POST" if name.startswith("submit") else "GET"
            report_server(access_log, 0, f"{method} /h5/forms/", name, spans)
        report_cpu(server, cpu, sum(len(g) for g in groups[: args.rounds]), "her form (page, submit, answer)")
        profile_home(config, spare)
        profile_submits(config, spare, SEVERE_READING)
        print("one registration submit, alone, timed in this process (median ms):")
        for name, ms in sorted(breakdown(url, config, 20).items(), key=lambda kv: -kv[1]):
            print(f"  {name:44s} {ms:7.1f}")
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)
        fake.close()
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


if __name__ == "__main__":
    main()
