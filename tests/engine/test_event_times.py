"""Time relative to an event (issue 16 item 2): the triggering event's own time, to the minute.

The goldens (tests/cases/event-times.yaml) show the timelines; these tests pin what they do not
print: the dedupe key carries the event's id, so a moved class gets a new reminder and the slot
cancels the old one; and an event without the time drops the action rather than guessing.
"""

from datetime import datetime, timedelta

from carepath.engine.catalogue import Catalogue, load_catalogue
from carepath.engine.compiler import compile_text
from carepath.engine.facts import Event, Facts
from carepath.engine.library import Library
from carepath.engine.runtime import Settings, State, evaluate
from carepath.engine.scheduling import event_moment
from carepath.engine.spec import Point

ZONE = Settings().window.zone
PATHWAY = """
pathway: school
title: 孕妇学校
rules:
  - id: class-eve
    on: {event: class.booked}
    do:
      - remind: {content: class-eve, at: {event_time: starts_at, offset: -1d}, slot: next-class}
"""


def library() -> Library:
    base = load_catalogue()
    result = compile_text(PATHWAY, catalogue=Catalogue(tags=base.tags, labs=base.labs))
    assert result.ok, [str(p) for p in result.problems]
    return Library(result.pathways)


def booked(event_id: str, at: datetime, starts_at: str) -> Event:
    return Event(event_id, "class.booked", at, {"class_id": "c-1", "starts_at": starts_at})


def test_a_moved_class_gets_a_new_reminder_keyed_by_its_event_and_the_old_one_is_replaced() -> None:
    lib = library()
    registered = datetime(2026, 3, 2, 10, tzinfo=ZONE)
    state = State(Facts("g", registered, lmp=datetime(2026, 1, 5).date()))
    state = evaluate(lib, state, None, registered).state
    first_at = datetime(2026, 4, 1, 15, tzinfo=ZONE)
    first = evaluate(lib, state, booked("his-77", first_at, "2026-04-10T14:00:00+08:00"), first_at)
    (reminder,) = first.actions
    assert reminder.at == datetime(2026, 4, 9, 14, tzinfo=ZONE)
    assert reminder.occurrence == "his-77" and "/class-eve/his-77/0" in reminder.dedupe_key
    again = evaluate(lib, first.state, booked("his-77", first_at, "2026-04-10T14:00:00+08:00"), first_at)
    assert [a.dedupe_key for a in again.actions] == [reminder.dedupe_key]  # the same event: one key
    assert again.cancellations == ()
    moved_at = datetime(2026, 4, 5, 11, tzinfo=ZONE)
    moved = evaluate(lib, first.state, booked("his-78", moved_at, "2026-04-17T10:00:00+08:00"), moved_at)
    (new,) = moved.actions
    assert new.at == datetime(2026, 4, 16, 10, tzinfo=ZONE) and "/his-78/" in new.dedupe_key
    (cancelled,) = moved.cancellations
    assert (cancelled.dedupe_key, cancelled.status, cancelled.replaced_by) == (
        reminder.dedupe_key,
        "replaced",
        new.dedupe_key,
    )
    assert [p.dedupe_key for p in moved.state.pending] == [new.dedupe_key]


def test_an_event_without_the_time_drops_the_action() -> None:
    point = Point("event_time", timedelta(days=-1), "starts_at")
    assert event_moment(point, {"starts_at": "2026-04-10T14:00:00+08:00"}) == datetime(
        2026, 4, 9, 14, tzinfo=ZONE
    )
    assert event_moment(point, {}) is None
    assert event_moment(point, None) is None
    assert event_moment(point, {"starts_at": "2026-04-10T14:00:00"}) is None  # no offset: no moment
    assert event_moment(point, {"starts_at": "2026-02-30T14:00:00+08:00"}) is None
    assert point.describe() == "event starts_at -1d"
    assert Point("event_time", timedelta(hours=-2), "at").describe() == "event at -2h"


EXAM = """
pathway: school-exam
title: 课程考试
rules:
  - id: exam
    on: {event: course.completed}
    do: [{questionnaire: {form: {event_field: exam_form}, due: 7d}}]
"""


def test_an_unpublished_exam_form_is_a_located_problem_and_a_task_for_the_school() -> None:
    """Issue 16 item 3: the form the event names is checked against the published forms."""
    base = load_catalogue()
    result = compile_text(EXAM, catalogue=Catalogue(tags=base.tags, labs=base.labs))
    assert result.ok, [str(p) for p in result.problems]
    lib = Library(result.pathways)
    (pathway,) = result.pathways
    registered = datetime(2026, 3, 2, 10, tzinfo=ZONE)
    state = evaluate(lib, State(Facts("g", registered)), None, registered).state
    at = datetime(2026, 4, 1, 11, tzinfo=ZONE)
    completed = Event("his-9", "course.completed", at, {"course_id": "birth-prep", "exam_form": "prep-exam"})
    published = evaluate(lib, state, completed, at, Settings(forms=frozenset({"prep-exam"})))
    (sent,) = published.actions
    assert (sent.kind, sent.params["form"], sent.params["due"], published.problems) == (
        "questionnaire",
        "prep-exam",
        "7d",
        (),
    )
    unknown = evaluate(lib, state, completed, at)  # the built-in forms: no prep-exam among them
    (task,) = unknown.actions
    assert (task.kind, task.params["assign"], task.params["priority"], task.at) == (
        "task",
        "school",
        "high",
        at,
    )
    assert task.dedupe_key == sent.dedupe_key  # the same occurrence: never both
    (problem,) = unknown.problems
    assert problem.code == "unknown-form"
    assert problem.location == f"school-exam@{pathway.version}/exam/do[0]/questionnaire/form"
    assert "'prep-exam'" in problem.message and "his-9" in problem.message
    assert "prep-exam" in str(task.params["script"]) and problem.location in str(task.params["script"])
