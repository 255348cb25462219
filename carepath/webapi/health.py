"""``/healthz`` (database reachable, migrations current) and ``/metrics`` (Prometheus text)."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify
from sqlalchemy import func, select

from carepath.store import db as store_db
from carepath.store.models import EventRecord, OutboxRow

blp = Blueprint("health", __name__)


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


@blp.get("/metrics")
def metrics() -> Response:
    database = current_app.extensions["carepath.db"]
    now = current_app.config["CLOCK"]()
    with database.reading() as session:
        events = session.scalar(select(func.count(EventRecord.id))) or 0
        by_status = session.execute(
            select(OutboxRow.status, func.count(OutboxRow.id)).group_by(OutboxRow.status)
        )
        oldest_due = session.scalar(
            select(func.min(OutboxRow.due_at)).where(OutboxRow.status == "due", OutboxRow.due_at <= now)
        )
        statuses: dict[str, int] = {status: count for status, count in by_status.all()}
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
        "# HELP carepath_outbox_lag_seconds Age of the oldest due action not yet sent.",
        "# TYPE carepath_outbox_lag_seconds gauge",
        f"carepath_outbox_lag_seconds {max(lag, 0.0):.3f}",
    ]
    return Response("\n".join(lines) + "\n", mimetype="text/plain; version=0.0.4")
