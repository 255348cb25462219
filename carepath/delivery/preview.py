"""What she would read, per channel, for one previewed message: the editor's click-through.

The engine's preview (``carepath.engine.preview``) stays pure and knows nothing of channels;
rendering lives here, in delivery, which may import the engine (ARCHITECTURE.md). The
wording comes from the one function the dispatcher renders with (``render_action``) and the
same rules decide where it may go:

- **WeChat** (template message): the neutral summary and a link, never the title or body;
  lessons (``push``) are never sent as template messages — the weekly digest announces them;
- **SMS**: the neutral summary and the link (``{1}``, ``{2}``);
- **inbox** (behind her login): the full title and body; ``html`` is the body as her inbox
  item page shows it, through the same safe renderer (``safe_markdown.markdown_html``, which
  ``her_item.body_html`` is), never its Markdown source.

Every external text is put through ``external_params``, the check the adapters run before a
send, so a summary that would leak the title or body shows up here as refused.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from carepath.channels.base import Message, PermanentError, external_params
from carepath.delivery.items import DIGEST_KIND, NOTIFICATION_KINDS, priority_of
from carepath.delivery.policy import HospitalPolicy
from carepath.delivery.rendering import build_safe_facts, render_action
from carepath.delivery.safe_markdown import markdown_html
from carepath.engine.clock import gestational_days
from carepath.engine.content import ContentItem
from carepath.engine.preview import PreviewItem

#: The pathway-language names a rule may narrow its channels to, per preview channel.
_LANGUAGE = {"wechat": ("wechat", "subscribe"), "sms": ("sms",), "inbox": ("inbox",)}


@dataclass(frozen=True)
class ChannelView:
    """One channel's rendering: ``sent`` False says why not in ``note``."""

    channel: str  # wechat, sms, inbox
    sent: bool
    title: str = ""
    text: str = ""
    link: str = ""
    note: str = ""

    @property
    def html(self) -> str:
        """The inbox body as safe HTML, as her page renders it (WeChat and SMS are plain text)."""
        return markdown_html(self.text) if self.channel == "inbox" else ""

    def as_json(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "sent": self.sent,
            "title": self.title,
            "text": self.text,
            "link": self.link,
            "note": self.note,
        }


def render_views(
    kind: str,
    params: Mapping[str, object],
    channels: Sequence[str],
    content: Mapping[str, ContentItem],
    facts: Mapping[str, object],
    *,
    link: str = "/h5/inbox/preview",
    policy: HospitalPolicy | None = None,
) -> tuple[ChannelView, ...]:
    """WeChat, SMS and inbox views of one message. ``channels``: the rule's narrowing, in
    the pathway language (empty: her fallback order). Template errors become a note."""
    policy = policy or HospitalPolicy()
    try:
        rendered = render_action(kind, params, content, facts)
    except Exception as exc:  # what the content lint reports; the dispatcher falls back
        note = f"the template does not render: {exc}"
        return tuple(ChannelView(name, False, note=note) for name in ("wechat", "sms", "inbox"))
    priority = priority_of(kind, params)
    education = priority in policy.inbox_only
    views = []
    for name in ("wechat", "sms"):
        narrowed_out = bool(channels) and not set(channels) & set(_LANGUAGE[name])
        if narrowed_out:
            views.append(ChannelView(name, False, note="the rule narrows its channels: not sent here"))
            continue
        if education and (name == "wechat" or not channels):
            note = (
                "lessons are not sent as WeChat template messages; the weekly digest announces them"
                if name == "wechat"
                else "lessons go to the inbox only"
            )
            views.append(ChannelView(name, False, note=note))
            continue
        message = Message(
            dedupe_key="preview",
            hospital_id="preview",
            kind=NOTIFICATION_KINDS.get(kind, DIGEST_KIND),
            recipient="preview",
            summary=rendered.summary,
            link=link,
            params=MappingProxyType(
                {"thing1": rendered.summary} if name == "wechat" else {"1": rendered.summary, "2": link}
            ),
            title=rendered.title,  # as the dispatcher builds it: the body never reaches an adapter
        )
        try:
            external_params(message)
        except PermanentError as exc:
            views.append(ChannelView(name, False, note=f"refused before sending: {exc}"))
            continue
        views.append(
            ChannelView(
                name,
                True,
                title=message.kind if name == "wechat" else "",
                text=rendered.summary,
                link=message.link or "",
                note="template message: the neutral summary and a link" if name == "wechat" else "",
            )
        )
    views.append(ChannelView("inbox", True, title=rendered.title, text=rendered.body, link=link))
    return tuple(views)


def preview_views(
    item: PreviewItem,
    content: Mapping[str, ContentItem],
    *,
    first_name: str = "",
    edd: dt.date | None = None,
    zone: dt.tzinfo | None = None,
    link: str = "/h5/inbox/preview",
) -> tuple[ChannelView, ...]:
    """The views of a previewed message on its day: her safe facts as of that day."""
    row = item.row
    day = row.at.astimezone(zone).date() if zone else row.at.date()
    days = gestational_days(edd, day) if edd is not None and day <= edd + dt.timedelta(days=14) else None
    facts = build_safe_facts(first_name=first_name, today=day, gestational_days=days, edd=edd)
    return render_views(row.action, row.params, row.channels, content, facts, link=link)
