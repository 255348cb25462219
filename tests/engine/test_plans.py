"""Enrolment by hand (issue 16 item 4): what the goldens (tests/cases/plans.yaml) do not print.

A request that changes nothing is a note, not an error; the enrolment records that staff began
or ended it (and the state keeps it); an events file naming a pathway its library lacks is a
located error; the CLI's validate and dry-run check it against the pathways named with it.
"""

from __future__ import annotations

from datetime import date, datetime
from types import MappingProxyType

from click.testing import CliRunner

from carepath.cli import cli
from carepath.engine import plans
from carepath.engine.catalogue import Catalogue, load_catalogue
from carepath.engine.compiler import compile_text
from carepath.engine.facts import Event, Facts
from carepath.engine.inputs import check_events
from carepath.engine.library import Library
from carepath.engine.runtime import Settings, State, evaluate
from carepath.store.state_codec import dump_state, load_state

ZONE = Settings().window.zone
PATHWAY = """
pathway: gdm-care
title: 妊娠期糖尿病管理
audience: {tag: 妊娠期糖尿病}
exit: {status: delivered}
rules:
  - {id: welcome, on: enrolled, do: [{push: {content: gdm-welcome}}]}
"""
REGISTERED = datetime(2026, 3, 2, 10, tzinfo=ZONE)


def library() -> Library:
    base = load_catalogue()
    result = compile_text(PATHWAY, catalogue=Catalogue(tags=base.tags, labs=base.labs))
    assert result.ok, [str(p) for p in result.problems]
    return Library(result.pathways)


def request(event_id: str, kind: str, at: datetime, pathway: str = "gdm-care") -> Event:
    data = {"pathway": pathway, "requested_by": "张医生", "reason": "空腹血糖偏高", "reason_code": "x"}
    return Event(event_id, kind, at, MappingProxyType(data))


def registered(**facts: object) -> State:
    state = State(Facts("g", REGISTERED, lmp=date(2026, 1, 5), **facts))  # type: ignore[arg-type]
    return evaluate(library(), state, None, REGISTERED).state


def test_enrolled_and_ended_by_hand_the_enrolment_says_so_and_the_state_keeps_it() -> None:
    lib = library()
    at = datetime(2026, 4, 1, 15, tzinfo=ZONE)
    enrolled = evaluate(lib, registered(), request("e1", plans.ENROL, at), at)
    (enrolment,) = enrolled.enrolled
    assert enrolment.manual and not enrolment.ended_by_staff
    assert enrolment.reason == "enrolled by staff (张医生, x): 空腹血糖偏高"
    assert [a.rule_id for a in enrolled.actions] == ["welcome"] and enrolled.plan_notes == ()
    ended = evaluate(lib, enrolled.state, request("e2", plans.END, at), at)
    (gone,) = ended.exited
    assert gone.ended_by_staff and gone.reason.startswith("ended by staff (张医生, x)")
    assert load_state(dump_state(ended.state)) == ended.state


def test_a_request_that_changes_nothing_is_a_note() -> None:
    lib = library()
    at = datetime(2026, 4, 1, 15, tzinfo=ZONE)
    ended = evaluate(lib, registered(), request("e1", plans.END, at), at)
    assert ended.plan_notes == (plans.PlanNote(plans.NOT_ENROLLED, "gdm-care", "e1"),)
    enrolled = evaluate(lib, registered(), request("e2", plans.ENROL, at), at)
    again = evaluate(lib, enrolled.state, request("e3", plans.ENROL, at), at)
    assert again.plan_notes == (plans.PlanNote(plans.ALREADY_ENROLLED, "gdm-care", "e3"),)
    assert again.enrolled == () and again.actions == ()
    delivered = registered(status="delivered", delivery_date=date(2026, 3, 1))
    refused = evaluate(lib, delivered, request("e4", plans.ENROL, at), at)
    assert refused.plan_notes == (plans.PlanNote(plans.EXIT_HOLDS, "gdm-care", "e4"),)
    assert refused.enrolled == () and refused.actions == ()


def test_a_format_1_enrolment_without_the_new_keys_loads_as_not_by_hand() -> None:
    state = registered(tags=frozenset({"妊娠期糖尿病"}))
    dumped = dump_state(state)
    for enrolment in dumped["enrolments"]:
        del enrolment["manual"], enrolment["ended_by_staff"]
    (enrolment,) = load_state(dumped).enrolments
    assert (enrolment.manual, enrolment.ended_by_staff) == (False, False)


EVENTS = (
    "- {id: e1, occurred_at: 2026-04-01T15:00:00+08:00, type: plan.enrol_requested,\n"
    "   data: {pathway: gdm-car, requested_by: 张医生, reason: 血糖偏高}}\n"
)


def test_an_events_file_naming_a_pathway_its_library_lacks_is_located() -> None:
    checked = check_events("events.yaml", EVENTS.encode(), pathways=frozenset({"gdm-care"}))
    (problem,) = checked.problems
    assert (problem.location.line, problem.location.column, problem.code) == (2, 20, "unknown-pathway")
    assert "no pathway 'gdm-car' (did you mean 'gdm-care'?)" in str(problem)
    assert check_events("events.yaml", EVENTS.encode()).ok  # without its library: not checked


def test_validate_and_dry_run_check_the_events_against_the_pathways_named(tmp_path) -> None:
    pathway = tmp_path / "gdm-care.yaml"
    pathway.write_text(PATHWAY.replace("gdm-welcome", "danger-signs"), encoding="utf-8")
    events = tmp_path / "events.yaml"
    events.write_text(EVENTS, encoding="utf-8")
    patient = tmp_path / "patient.yaml"
    patient.write_text("id: g\nlmp: 2026-01-05\nenrolled_at: 2026-03-02T10:00:00+08:00\n", encoding="utf-8")
    runner = CliRunner()
    alone = runner.invoke(cli, ["pathway", "validate", "--events", str(events)])
    assert alone.exit_code == 0, alone.output
    for command in (
        ["pathway", "validate", str(pathway), "--events", str(events)],
        ["pathway", "dry-run", str(pathway), "--patient", str(patient), "--events", str(events)],
    ):
        result = runner.invoke(cli, command)
        assert result.exit_code == 1, result.output
        assert f"{events}:2:" in result.output and "unknown-pathway" in result.output, result.output
