"""Her home page's content (首页, issue 19 item 1): this week's lesson and the baby this week,
her upcoming checkups with what is done at each, and her hospital — read from her hospital's
own library and pathways, never from weeks written here.

- **This week's lesson** is the library's ``weekly`` item whose audience weeks hold her week
  (the school's lessons, ``week-NN``); the baby this week is its 宝宝这一周 section.
- **Her checkups** come from the hospital's current *checkup pathways*: a pathway that reminds
  her of at least one ``visit`` item (``visit-N``; the shipped ``checkup-schedule``, the
  examples' ``checkups-example``). Each of its rules timed by gestational age that reminds her
  of a content item is one checkup: it opens at the rule's point, closes at the ``gestational_age``
  bound of its ``when`` (else the end of an ``every``, else the end of the item's audience
  weeks), and is done once the HIS reported a visit kind its ``when`` waits for
  (``not: {visit: …}``). What is done at it is its item's 这次检查什么 section (else its opening
  paragraph); its name is the item's title, the weeks its audience's.
- Only approved items are shown, or drafts too where the hospital's ``drafts_allowed`` is on
  (``drafts_shown`` then tells the page to say so, as staff pages carry their banner).

Every text is filled in with her safe facts and becomes HTML through the one safe renderer
(``safe_markdown``): she never reads Markdown source or a key.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy.orm import Session

from carepath.delivery.rendering import render_text
from carepath.delivery.safe_markdown import markdown_html
from carepath.engine.clock import DAYS_PER_WEEK
from carepath.engine.content import ContentItem
from carepath.engine.spec import AllOf, At, Compare, Every, HasVisit, Not, Pathway, Rule
from carepath.store import approvals, her_pages, hospital_settings, pathways, publishing
from carepath.store.models import Hospital, Pregnancy
from carepath.store.state_codec import load_state

log = logging.getLogger(__name__)

#: How many of her next checkups the home shows.
CHECKUPS_SHOWN = 3
#: A pregnancy's length from the first day of the LMP to the EDD (Naegele), in days.
TERM_DAYS = 280
_HEADING = re.compile(r"^##\s+(.+?)\s*$", re.MULTILINE)
BABY_SECTION = "宝宝这一周"
CHECKUP_SECTION = "这次检查什么"


@dataclass(frozen=True)
class Lesson:
    title: str
    baby_html: str  # the 宝宝这一周 section, safe HTML
    body_html: str  # the whole lesson, safe HTML
    draft: bool


@dataclass(frozen=True)
class Checkup:
    title: str
    first_week: int | None
    last_week: int | None
    starts: date | None  # the first day of its first week, from her EDD
    ends: date | None  # the last day of its last week
    now: bool  # she is in its weeks today
    what_html: str  # what is done at it, safe HTML
    draft: bool


@dataclass(frozen=True)
class HomeContent:
    lesson: Lesson | None
    checkups: tuple[Checkup, ...]
    hospital_name: str
    emergency_phone: str | None
    drafts_shown: bool  # something shown is a draft (the hospital allows drafts)
    unread: int  # her items not opened yet


@functools.lru_cache(maxsize=1024)
def _html(markdown: str) -> str:
    """The safe renderer, remembered: most sections read the same for every woman of a week."""
    return markdown_html(markdown)


def sections(markdown: str) -> tuple[str, dict[str, str]]:
    """A body's opening text and its ``##`` sections by heading."""
    parts = _HEADING.split(markdown)
    found = {parts[i].strip(): parts[i + 1].strip() for i in range(1, len(parts) - 1, 2)}
    return parts[0].strip(), found


def _audience_weeks(item: ContentItem) -> tuple[int, int] | None:
    weeks = item.audience.get("weeks")
    if isinstance(weeks, tuple | list) and len(weeks) == 2 and all(isinstance(w, int) for w in weeks):
        return int(weeks[0]), int(weeks[1])
    return None


def _remind_content(rule: Rule) -> str | None:
    for action in rule.actions:
        if action.kind == "remind" and isinstance(action.params.get("content"), str):
            return str(action.params["content"])
    return None


def _opens(rule: Rule) -> int | None:
    """The day of pregnancy the rule's reminder fires (its point), or None (not timed by GA)."""
    point = rule.trigger.point if isinstance(rule.trigger, At) else None
    if isinstance(rule.trigger, Every):
        point = rule.trigger.start
    if point is None or point.anchor != "gestational_age":
        return None
    return point.offset.days


def _conditions(rule: Rule) -> tuple[Any, ...]:
    if rule.when is None:
        return ()
    return rule.when.items if isinstance(rule.when, AllOf) else (rule.when,)


def _closes(rule: Rule) -> int | None:
    """The day of pregnancy from which the rule no longer applies (its ``gestational_age``
    upper bound, else the end of its ``every``)."""
    for condition in _conditions(rule):
        if isinstance(condition, Compare) and condition.fact == "gestational_days":
            if condition.op == "lt" and isinstance(condition.value, int):
                return condition.value
            if condition.op == "lte" and isinstance(condition.value, int):
                return condition.value + 1
    until = rule.trigger.until if isinstance(rule.trigger, Every) else None
    if until is not None and until.anchor == "gestational_age":
        return until.offset.days
    return None


def _visit_kinds(rule: Rule) -> frozenset[str]:
    """The visit kinds whose report ends the rule (``not: {visit: …}`` in its ``when``)."""
    kinds: frozenset[str] = frozenset()
    for condition in _conditions(rule):
        if isinstance(condition, Not) and isinstance(condition.item, HasVisit):
            kinds |= condition.item.kinds
    return kinds


def checkup_pathways(current: Mapping[str, Pathway], items: Mapping[str, ContentItem]) -> list[Pathway]:
    """The pathways that remind her of at least one ``visit`` item, by id."""
    found = []
    for pathway_id in sorted(current):
        pathway = current[pathway_id]
        keys = (_remind_content(rule) for rule in pathway.rules)
        if any(key in items and items[key].kind == "visit" for key in keys if key):
            found.append(pathway)
    return found


class _Reader:
    """One page's look at the hospital's library: what may be shown, rendered for her."""

    def __init__(self, session: Session, hospital_id: str, facts: Mapping[str, object]) -> None:
        self.items = publishing.content_items(session, hospital_id)
        self.approved = approvals.approvals(session, hospital_id)
        self.drafts_allowed = hospital_settings.current(session, hospital_id).drafts_allowed
        self.facts = facts
        self.drafts_shown = False

    def showable(self, key: str) -> ContentItem | None:
        item = self.items.get(key)
        if item is None:
            return None
        if self.approved.of("content", key).approved:
            return item
        if self.drafts_allowed:
            self.drafts_shown = True
            return item
        return None

    def draft(self, key: str) -> bool:
        return not self.approved.of("content", key).approved

    def text(self, item: ContentItem) -> str | None:
        try:
            return render_text(item.body, self.facts)
        except Exception:  # a template the lint missed: the home goes on without this item
            log.exception("rendering %s for her home failed", item.key)
            return None


def _lesson(reader: _Reader, week: int | None) -> Lesson | None:
    if week is None:
        return None
    for key in sorted(reader.items):
        item = reader.items[key]
        weeks = _audience_weeks(item)
        if item.kind != "weekly" or weeks is None or not weeks[0] <= week <= weeks[1]:
            continue
        if reader.showable(key) is None:
            return None
        text = reader.text(item)
        if text is None:
            return None
        _, found = sections(text)
        return Lesson(item.title, _html(found.get(BABY_SECTION, "")), _html(text), reader.draft(key))
    return None


def _checkups(
    reader: _Reader,
    current: Mapping[str, Pathway],
    edd: date | None,
    days: int | None,
    visits: frozenset[str],
) -> tuple[Checkup, ...]:
    if days is None or edd is None:
        return ()
    start_of_pregnancy = edd - timedelta(days=TERM_DAYS)
    timed: list[tuple[int, str, Rule]] = []
    for pathway in checkup_pathways(current, reader.items):
        for rule in pathway.rules:
            key, opens = _remind_content(rule), _opens(rule)
            if key is None or opens is None or _visit_kinds(rule) & visits:
                continue  # not a checkup, or the HIS reported it done
            item = reader.items.get(key)
            weeks = _audience_weeks(item) if item is not None else None
            closes = _closes(rule)
            if closes is None and weeks is not None:
                closes = (weeks[1] + 1) * DAYS_PER_WEEK
            if closes is not None and days >= closes:
                continue  # its time is past
            timed.append((opens, key, rule))
    shown: list[Checkup] = []
    seen: set[str] = set()
    for _, key, _rule in sorted(timed, key=lambda found: (found[0], found[1])):
        item = reader.showable(key) if key not in seen else None
        seen.add(key)
        text = reader.text(item) if item is not None else None
        if item is None or text is None:
            continue
        intro, found = sections(text)
        weeks = _audience_weeks(item)
        first, last = weeks if weeks is not None else (None, None)
        starts = start_of_pregnancy + timedelta(weeks=first) if first is not None else None
        ends = start_of_pregnancy + timedelta(weeks=last + 1, days=-1) if last is not None else None
        week = days // DAYS_PER_WEEK
        now = first is not None and last is not None and first <= week <= last
        what = found.get(CHECKUP_SECTION) or intro
        what_html = _html(what)
        shown.append(Checkup(item.title, first, last, starts, ends, now, what_html, reader.draft(key)))
        if len(shown) == CHECKUPS_SHOWN:
            break
    return tuple(shown)


def home_content(
    session: Session,
    *,
    hospital_id: str,
    patient_id: int,
    pregnancy_id: str | None,
    home: Mapping[str, Any],
    facts: Mapping[str, object],
) -> HomeContent:
    """What her home shows beside her name and dates (``her_pages.her_home``'s ``home``),
    her texts filled in with ``facts`` (``her_item.her_facts``)."""
    reader = _Reader(session, hospital_id, facts)
    pregnancy = session.get(Pregnancy, pregnancy_id) if pregnancy_id else None
    visits: frozenset[str] = frozenset()
    if pregnancy is not None and (pregnancy.hospital_id, pregnancy.patient_id) != (hospital_id, patient_id):
        pregnancy = None  # never another woman's
    if pregnancy is not None and pregnancy.status == "pregnant":
        if pregnancy.state:  # a row not evaluated yet has no state: nothing reported done
            visits = load_state(pregnancy.state).facts.visits
        library = pathways.library_for(session, hospital_id)
        lesson = _lesson(reader, home.get("week"))
        checkups = _checkups(reader, library.current, home.get("edd"), home.get("gestational_days"), visits)
    else:
        lesson, checkups = None, ()
    hospital = session.get(Hospital, hospital_id)
    settings = hospital_settings.current(session, hospital_id)
    return HomeContent(
        lesson,
        checkups,
        hospital.name if hospital is not None else "",
        settings.emergency_phone,
        reader.drafts_shown,
        her_pages.unread_in(session, hospital_id, patient_id),
    )
