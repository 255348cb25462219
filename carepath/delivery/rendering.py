"""Render education items for one woman through a sandboxed Jinja2 environment.

Templates see only her *safe facts* (``SAFE_FACTS``): a first name, her gestational age and
dates. Nothing else exists for them, and ``StrictUndefined`` turns any other name into an
error, so a template that asks for a diagnosis fails ``carepath content lint`` (which renders
every item with ``SAMPLE_FACTS``) instead of a send at 3 a.m. Output meant for HTML is
autoescaped; plain-text output (WeChat, SMS) is not, since it is never parsed as markup.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType

import jinja2
from jinja2 import StrictUndefined, meta
from jinja2.sandbox import SandboxedEnvironment

from carepath.engine.clock import DAYS_PER_WEEK, format_gestational_age
from carepath.engine.content import ContentItem

#: Every fact a template may use.
SAFE_FACTS = ("first_name", "gestational_age", "gestational_week", "edd", "today")

#: Facts the lint renders every item with.
SAMPLE_FACTS: Mapping[str, object] = {
    "first_name": "小雨",
    "gestational_age": "24+3",
    "gestational_week": 24,
    "edd": dt.date(2026, 10, 12),
    "today": dt.date(2026, 6, 20),
}

_TEMPLATE_NAME = "<template>"
#: Compiled templates a process keeps (least recently used dropped first): a lesson's three
#: templates are compiled once, not on every send. The key is the text itself, so an edited
#: or newly published text is a new entry; nothing here can go stale.
TEMPLATES_KEPT = 512

#: The one neutral summary external channels carry for an item without content of its own (a
#: checkup reminder), and the inbox titles of such items (``external_params`` checks that the
#: summary never contains the title).
NEUTRAL_SUMMARY = "您有一条新的孕期消息，请打开孕期助手查看。"
GENERIC_TITLES: Mapping[str, str] = {
    "remind": "产检提醒",
    "questionnaire": "问卷待填写",
    "push": "新的孕期课程",
}


@dataclass(frozen=True)
class RenderedItem:
    key: str
    title: str
    summary: str
    body: str


@dataclass(frozen=True)
class TemplateProblem:
    """A template that does not compile or render; ``line`` counts from the template's start."""

    line: int
    message: str


def chinese_date(value: object) -> str:
    """2026-10-12 -> 2026年10月12日; anything else is shown as it is."""
    if isinstance(value, dt.date):
        return f"{value.year}年{value.month}月{value.day}日"
    return str(value)


def make_environment(*, html: bool) -> SandboxedEnvironment:
    """A fresh sandbox: no loader (templates cannot include files), strict undefined names."""
    env = SandboxedEnvironment(
        undefined=StrictUndefined,
        autoescape=html,
        keep_trailing_newline=True,
    )
    env.filters["cn_date"] = chinese_date
    return env


def safe_facts(facts: Mapping[str, object]) -> dict[str, object]:
    """Keep only the facts a template may see; anything else is dropped, never passed on."""
    return {name: facts[name] for name in SAFE_FACTS if name in facts}


def build_safe_facts(
    *,
    first_name: str,
    today: dt.date,
    gestational_days: int | None = None,
    edd: dt.date | None = None,
) -> dict[str, object]:
    """Her safe facts from the values the store holds; after delivery there is no GA."""
    facts: dict[str, object] = {"first_name": first_name, "today": today}
    if gestational_days is not None:
        facts["gestational_age"] = format_gestational_age(gestational_days)
        facts["gestational_week"] = gestational_days // DAYS_PER_WEEK
    if edd is not None:
        facts["edd"] = edd
    return facts


@functools.lru_cache(maxsize=TEMPLATES_KEPT)
def _compiled(template: str, html: bool) -> jinja2.Template:
    """``template`` compiled in its own sandbox (no loader, fixed filters: a compiled template
    holds nothing of one render for the next, and renders safely from several threads)."""
    return make_environment(html=html).from_string(template)


def render_text(template: str, facts: Mapping[str, object], *, html: bool = False) -> str:
    """Render one template with her safe facts. Raises jinja2 errors; lint catches them first."""
    return _compiled(template, html).render(safe_facts(facts))


def render_item(item: ContentItem, facts: Mapping[str, object], *, html: bool = False) -> RenderedItem:
    """Title and summary as plain text (they go to external channels); body as asked."""
    return RenderedItem(
        key=item.key,
        title=render_text(item.title, facts),
        summary=render_text(item.summary, facts),
        body=render_text(item.body, facts, html=html),
    )


def generic_message(kind: str) -> RenderedItem:
    """The wording of an action without content of its own (or whose template failed)."""
    title = GENERIC_TITLES.get(kind, "新消息")
    return RenderedItem(key="", title=title, summary=NEUTRAL_SUMMARY, body=NEUTRAL_SUMMARY)


def render_action(
    kind: str,
    params: Mapping[str, object],
    content: Mapping[str, ContentItem],
    facts: Mapping[str, object],
    *,
    html: bool = False,
) -> RenderedItem:
    """Title, neutral summary and body of the message an action sends: its content item's,
    rendered with her safe facts, or the generic wording of its kind. Raises jinja2 errors."""
    key = params.get("content")
    item = content.get(str(key)) if key else None
    if item is None:
        return generic_message(kind)
    return render_item(item, facts, html=html)


def _template_line(traceback: TracebackType | None) -> int:
    """The template line a render error happened on (Jinja maps its frames to it)."""
    line = 1
    while traceback is not None:
        if traceback.tb_frame.f_code.co_filename == _TEMPLATE_NAME:
            line = traceback.tb_lineno
        traceback = traceback.tb_next
    return line


def check_template(template: str, facts: Mapping[str, object] = SAMPLE_FACTS) -> list[TemplateProblem]:
    """Compile and render a template as a send would; return what fails, never raise."""
    env = make_environment(html=True)
    try:
        parsed = env.parse(template)
    except jinja2.TemplateSyntaxError as exc:
        return [TemplateProblem(exc.lineno or 1, f"template syntax: {exc.message}")]
    unknown = sorted(meta.find_undeclared_variables(parsed) - set(SAFE_FACTS))
    if unknown:
        return [
            TemplateProblem(
                _first_line_naming(template, name),
                f"'{name}' is not a safe fact (allowed: {', '.join(SAFE_FACTS)})",
            )
            for name in unknown
        ]
    try:
        env.from_string(template).render(safe_facts(facts))
    except Exception as exc:  # lint reports every failure a send could meet
        return [TemplateProblem(_template_line(exc.__traceback__), f"render: {exc}")]
    return []


def _first_line_naming(template: str, name: str) -> int:
    for number, line in enumerate(template.splitlines(), start=1):
        if name in line and "{" in line:
            return number
    return 1
