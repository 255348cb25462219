"""Golden dry-runs: each tests/cases/*.yaml holds pathways, a patient, events and the exact
timeline expected (or the error code). The expectations were worked out by hand from the
dates in each case's comments before the engine ever ran them.
"""

from datetime import datetime, time
from pathlib import Path

import pytest
import yaml

from carepath.engine.catalogue import Catalogue, load_catalogue
from carepath.engine.compiler import Unit, compile_units
from carepath.engine.facts import facts_from_patient
from carepath.engine.inputs import check_events, check_patient
from carepath.engine.library import Library
from carepath.engine.runtime import Settings
from carepath.engine.simulate import dry_run, events_from_file
from carepath.errors import CarepathError

CASES_DIR = Path(__file__).parent.parent / "cases"
CASES = [
    (path.stem, case)
    for path in sorted(CASES_DIR.glob("*.yaml"))
    for case in yaml.safe_load(path.read_text("utf-8"))
]
BASE_PATIENT = {
    "id": "g",
    "lmp": "2026-01-05",  # EDD 2026-10-12; GA n+0 falls on 2026-01-05 + 7n days
    "birth_date": "1990-04-12",  # 36 at EDD
    "gravida": 2,
    "para": 1,
    "enrolled_at": "2026-03-02T10:00:00+08:00",  # 8+0
}
SETTINGS = Settings()


def catalogue() -> Catalogue:
    """Tags and labs as shipped; content and forms unchecked (these cases test the runtime)."""
    base = load_catalogue()
    return Catalogue(tags=base.tags, labs=base.labs, pathway_ids=base.pathway_ids)


def row_text(row) -> str:
    status = "" if row.status == "due" else f" ({row.status})"
    return f"{row.at:%Y-%m-%d %H:%M} {row.rule} {row.action} {row.summary}{status}".rstrip()


def run_case(case, extra_ticks=(), matcher="compiled"):
    texts = case["pathways"] if "pathways" in case else [case["pathway"]]
    units = [Unit(f"case-{i}.yaml", text.encode()) for i, text in enumerate(texts)]
    result = compile_units(units, catalogue())
    assert result.ok, [str(p) for p in result.problems]
    pathways = result.pathways
    patient_data = {**BASE_PATIENT, **case.get("patient", {})}
    for key in case.get("patient_remove", []):
        patient_data.pop(key)
    patient = check_patient("patient.yaml", yaml.safe_dump(patient_data, allow_unicode=True).encode())
    assert patient.ok, [str(p) for p in patient.problems]
    events = []
    if case.get("events"):
        checked = check_events("events.yaml", yaml.safe_dump(case["events"], allow_unicode=True).encode())
        assert checked.ok, [str(p) for p in checked.problems]
        events = events_from_file(checked.value)
    until = datetime.combine(
        datetime.fromisoformat(str(case.get("until", "2026-12-31"))).date(),
        time(23, 59),
        SETTINGS.window.zone,
    )
    rows = dry_run(
        Library(pathways, matcher=matcher),
        facts_from_patient(patient.value),
        events,
        until=until,
        extra_ticks=extra_ticks,
    )
    if not case.get("show_cancelled"):
        rows = [r for r in rows if r.status == "due"]
    return rows


@pytest.mark.parametrize(("source", "case"), CASES, ids=[f"{s}:{c['name']}" for s, c in CASES])
def test_golden(source, case):
    if "error" in case:
        with pytest.raises(CarepathError) as caught:
            run_case(case)
        assert caught.value.code == case["error"]
        return
    rows = run_case(case)
    assert [row_text(r) for r in rows] == case["expect"]


@pytest.mark.parametrize(("source", "case"), [c for c in CASES if "error" not in c[1]], ids=lambda c: "")
def test_extra_wakeups_change_nothing(source, case):
    """A scheduler that wakes too often must not send twice or differently."""
    baseline = [(r.dedupe_key, r.at, r.status) for r in run_case(case)]
    ticks = [
        datetime(2026, month, day, hour, tzinfo=SETTINGS.window.zone)
        for month in range(3, 13)
        for day in (1, 9, 17, 25)
        for hour in (3, 9, 14)
    ]
    assert [(r.dedupe_key, r.at, r.status) for r in run_case(case, extra_ticks=ticks)] == baseline


def test_there_are_enough_golden_cases():
    assert len(CASES) >= 30


@pytest.mark.timeout(900, method="thread")
@pytest.mark.parametrize(("source", "case"), [c for c in CASES if "error" not in c[1]], ids=lambda c: "")
def test_durable_matcher_gives_the_same_dry_run(source, case):
    """The second matcher, durable-rules, must agree with the compiled one on every golden case."""
    compiled = [(r.dedupe_key, r.at, r.status) for r in run_case(case)]
    assert [(r.dedupe_key, r.at, r.status) for r in run_case(case, matcher="durable")] == compiled
