"""The scheduler in cluster mode only enqueues (``Jobs.enqueue``), counting what is due in the
database; and ``/healthz/pipeline`` and ``/metrics`` give each stage's lag from the database,
the same in any process (issue 22 item 6). No broker: the enqueuer here records its calls."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from carepath.scheduler import Jobs, Settings
from carepath.store.models import PipelineHeartbeat, Pregnancy
from tests.conftest import NOW
from tests.scheduler.test_scheduler import _registration


@dataclass
class Recording:
    max_pages: int = 100
    calls: list[tuple[str, int, int]] = field(default_factory=list)

    def pages(self, stage: str, due: int, size: int, now: datetime) -> int:
        self.calls.append((stage, due, size))
        return max(-(-due // size), 1)


def _register_with_due(api: Any, app: Any, due: int, at: datetime) -> list[str]:
    response = api.post("/api/v1/events:batch", {"events": [_registration(n) for n in range(6)]})
    assert response.status_code in (200, 201, 207), response.get_json()
    with app.extensions["carepath.db"].transaction() as session:
        ids = sorted(session.scalars(select(Pregnancy.id)))
        session.execute(update(Pregnancy).values(next_wakeup=at + timedelta(days=30)))
        session.execute(update(Pregnancy).where(Pregnancy.id.in_(ids[:due])).values(next_wakeup=at))
    return ids[:due]


def test_the_scheduler_in_cluster_mode_enqueues_pages_and_runs_none(api: Any, app: Any, clock: Any) -> None:
    later = NOW + timedelta(days=1)
    _register_with_due(api, app, 4, later)
    clock.now = later
    recording = Recording()
    jobs = Jobs(app, lambda hospital: None, Settings(sweep_batch=3, dispatch_batch=50), enqueue=recording)
    assert jobs.sweep() == [] and jobs.dispatch().claimed == 0
    assert recording.calls[0] == ("sweep", 4, 3)  # two pages of three for four due
    assert recording.calls[1][0] == "dispatch" and recording.calls[1][2] == 50
    db = app.extensions["carepath.db"]
    with db.reading() as session:
        assert len(session.scalars(select(Pregnancy).where(Pregnancy.next_wakeup <= later)).all()) == 4
        beats = {row.job: row.count for row in session.scalars(select(PipelineHeartbeat))}
    assert beats == {"enqueue": 1}  # the workers beat sweep and dispatch when a page is done
    recording.max_pages = 1  # a backlog larger than the cap counts only as far as the cap
    jobs.sweep()
    assert recording.calls[-1] == ("sweep", 3, 3)


def test_pipeline_and_metrics_give_each_stages_lag_from_the_database(api: Any, app: Any, clock: Any) -> None:
    app.config["PIPELINE_MAX_LAG_SECONDS"] = 600
    later = NOW + timedelta(days=1)
    _register_with_due(api, app, 4, later)
    clock.now = later + timedelta(hours=1)  # nobody swept for an hour
    body = app.test_client().get("/healthz/pipeline").get_json()
    assert body["stages"]["sweep"] == {
        "waiting": 4,
        "waiting_capped": False,
        "oldest_since": later.isoformat(),
        "lag_seconds": 3600,
    }
    assert "the oldest due wake-up has waited 3600 s" in body["problems"]
    assert set(body["stages"]) == {"sweep", "dispatch"}
    text = app.test_client().get("/metrics").get_data(as_text=True)
    assert 'carepath_stage_lag_seconds{stage="sweep"} 3600.000' in text
    assert 'carepath_stage_waiting{stage="sweep"} 4' in text
    Jobs(app, lambda hospital: None).sweep()  # the embedded sweep catches up
    body = app.test_client().get("/healthz/pipeline").get_json()
    assert body["stages"]["sweep"]["waiting"] == 0 and body["stages"]["sweep"]["lag_seconds"] == 0
    text = app.test_client().get("/metrics").get_data(as_text=True)
    assert 'carepath_job_age_seconds{job="sweep"} 0.000' in text
