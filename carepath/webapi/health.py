"""``/healthz`` (this process: database reachable, migrations current), ``/healthz/pipeline``
(the whole pipeline: sweeps, dispatches and the oldest waiting message, from the heartbeats in
the database, so any process can answer for a scheduler running elsewhere) and ``/metrics``
(Prometheus text). Both give the lag of each stage (``store.backlog``: the oldest due wake-up,
the oldest sendable message), read from the database, so that with several workers, API
processes and schedulers every process answers the same."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from flask import Blueprint, Response, current_app, jsonify
from sqlalchemy import func, select

from carepath.store import backlog, heartbeats
from carepath.store import db as store_db
from carepath.store.models import EventRecord, OutboxRow

blp = Blueprint("health", __name__)

#: The jobs whose silence past the bound turns the pipeline red (escalation runs too seldom).
PULSE_JOBS = ("sweep", "dispatch")


class SchedulerStatus(Protocol):
    """What the scheduler running in this process (if any) says of itself; it registers
    under ``app.extensions["carepath.scheduler"]`` (webapi never imports the scheduler)."""

    def status(self) -> Mapping[str, Any]: ...


@blp.get("/healthz")
def healthz() -> Response:
    database = current_app.extensions["carepath.db"]
    checks: dict[str, str] = {}
    healthy = True
    try:
        database.ping()
        checks["database"] = "ok"
        current, head = store_db.current_revision(database.engine), store_db.head_revision()
        checks["migrations"] = "ok" if current == head else f"at {current}, head is {head}"
        healthy = current == head
    except Exception as exc:  # any failure of the database is the answer, not a 500
        checks["database"] = f"unreachable: {type(exc).__name__}"
        healthy = False
    response = jsonify({"status": "ok" if healthy else "unhealthy", "checks": checks})
    response.status_code = 200 if healthy else 503
    return response


@blp.get("/healthz/pipeline")
def pipeline() -> Response:
    """200 while messages flow: the last sweep and dispatch are recent and no message that could
    be sent has waited longer than ``PIPELINE_MAX_LAG_SECONDS``; else 503 with the reasons."""
    now = current_app.config["CLOCK"]()
    bound = float(current_app.config["PIPELINE_MAX_LAG_SECONDS"])
    scheduler: SchedulerStatus | None = current_app.extensions.get("carepath.scheduler")
    body: dict[str, Any] = {
        "max_lag_seconds": bound,
        "scheduler": {"in_this_process": scheduler is not None, **(scheduler.status() if scheduler else {})},
    }
    database = current_app.extensions["carepath.db"]
    try:
        state = heartbeats.pipeline(database, now)
        with database.reading() as session:
            stages = backlog.stages(session, now)
    except Exception as exc:  # any failure of the database is the answer, not a 500
        body.update(status="unhealthy", problems=[f"database unreachable: {type(exc).__name__}"])
        return _answer(body, 503)
    problems: list[str] = []
    for job in heartbeats.JOBS:
        beat = state.heartbeats.get(job)
        body[job] = None if beat is None else _heartbeat(beat, now)
        if job not in PULSE_JOBS:
            continue
        if beat is None:
            problems.append(f"no {job} has run yet")
        elif (now - beat.ran_at).total_seconds() > bound:
            problems.append(f"no {job} for {(now - beat.ran_at).total_seconds():.0f} s")
    lag = max((now - state.oldest_waiting_since).total_seconds(), 0.0) if state.oldest_waiting_since else 0.0
    body["oldest_due"] = {
        "since": state.oldest_waiting_since.isoformat() if state.oldest_waiting_since else None,
        "lag_seconds": round(lag, 3),
    }
    if lag > bound:
        problems.append(f"the oldest due message has waited {lag:.0f} s")
    body["stages"] = {name: _stage(stage, now) for name, stage in stages.items()}
    sweep_lag = stages["sweep"].lag_seconds(now)
    if sweep_lag > bound:  # the workers (or the embedded sweep) fall behind the wake-ups
        problems.append(f"the oldest due wake-up has waited {sweep_lag:.0f} s")
    body.update(status="lagging" if problems else "ok", problems=problems)
    return _answer(body, 503 if problems else 200)


def _heartbeat(beat: heartbeats.Heartbeat, now: datetime) -> dict[str, Any]:
    return {
        "ran_at": beat.ran_at.isoformat(),
        "age_seconds": round((now - beat.ran_at).total_seconds(), 3),
        "count": beat.count,
        "holder": beat.holder,
    }


def _stage(stage: backlog.Stage, now: datetime) -> dict[str, Any]:
    return {
        "waiting": stage.waiting,
        "waiting_capped": stage.waiting >= backlog.COUNT_CAP,
        "oldest_since": stage.oldest_since.isoformat() if stage.oldest_since else None,
        "lag_seconds": round(stage.lag_seconds(now), 3),
    }


def _answer(body: dict[str, Any], status: int) -> Response:
    response = jsonify(body)
    response.status_code = status
    return response


@blp.get("/metrics")
def metrics() -> Response:
    database = current_app.extensions["carepath.db"]
    now = current_app.config["CLOCK"]()
    with database.reading() as session:
        events = session.scalar(select(func.count(EventRecord.id))) or 0
        by_status = session.execute(
            select(OutboxRow.status, func.count(OutboxRow.id)).group_by(OutboxRow.status)
        )
        oldest_due = heartbeats.oldest_sendable(session, now)  # as /healthz/pipeline counts it
        statuses: dict[str, int] = {status: count for status, count in by_status.all()}
        stages = backlog.stages(session, now)
        beats = {row.job: row for row in heartbeats.heartbeat_rows(session)}
    lag = (now - oldest_due).total_seconds() if oldest_due is not None else 0.0
    lines = [
        "# HELP carepath_events_total HIS events recorded.",
        "# TYPE carepath_events_total counter",
        f"carepath_events_total {events}",
        "# HELP carepath_actions Outbox actions by status.",
        "# TYPE carepath_actions gauge",
    ]
    for status in sorted({"due", "sent", "failed", "dead", "cancelled", "replaced", "applied", *statuses}):
        lines.append(f'carepath_actions{{status="{status}"}} {statuses.get(status, 0)}')
    lines += [
        "# HELP carepath_outbox_lag_seconds How long the oldest sendable action has waited.",
        "# TYPE carepath_outbox_lag_seconds gauge",
        f"carepath_outbox_lag_seconds {max(lag, 0.0):.3f}",
        "# HELP carepath_stage_lag_seconds How long the oldest item due at each stage has waited.",
        "# TYPE carepath_stage_lag_seconds gauge",
        *(f'carepath_stage_lag_seconds{{stage="{n}"}} {st.lag_seconds(now):.3f}' for n, st in stages.items()),
        f"# HELP carepath_stage_waiting Items due at each stage (counted up to {backlog.COUNT_CAP}).",
        "# TYPE carepath_stage_waiting gauge",
        *(f'carepath_stage_waiting{{stage="{n}"}} {st.waiting}' for n, st in stages.items()),
        "# HELP carepath_job_age_seconds Since the last run of each job, by any process.",
        "# TYPE carepath_job_age_seconds gauge",
        *(
            f'carepath_job_age_seconds{{job="{job}"}} {(now - beats[job].ran_at).total_seconds():.3f}'
            for job in heartbeats.JOBS
            if job in beats
        ),
    ]
    return Response("\n".join(lines) + "\n", mimetype="text/plain; version=0.0.4")
