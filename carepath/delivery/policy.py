"""Delivery policy: one place, for every pathway, that says whether a due outbox item goes out
now, through which channel, or waits, or is skipped — a pure function, no I/O, no clock.

``decide(items, her, policy, now)`` takes every item due for one pregnancy and returns one
decision per item, in the order they are served (priority, then due time, then dedupe key):

- ``Send(channel, recipient)``: now, through the first channel of her fallback order that she
  consented to, is bound on, has not failed permanently for this item, is not out of quota;
- ``Hold(until, reason)``: outside the hospital's send window (until it opens), over her daily
  cap (until the next day's opening), a channel's quota spent (until it resets), or paused by a
  kill switch (``until=None``: until someone resumes it);
- ``Skip(reason)``: cancelled or replaced, expired, no consent, no binding — recorded, never
  silent;
- ``DeadLetter(reason)``: every channel she could be reached on failed permanently.

Rules, in the order applied:

1. A cancelled item is skipped; an item whose ``expires_at`` has passed (or would pass before
   the time it is held until) is skipped as expired. Nothing else is ever dropped.
2. Kill switches: ``all`` or the item's pathway holds it; so does a hold on her pregnancy (a
   suspected loss, issue 16 item 7: every message to her, her inbox copy too); a paused
   *channel* holds the items whose chosen channel it is (a pause stops sending, it does not
   reroute to a costlier one).
3. PIPL art. 29: no external message without her separate consent to health-information
   processing, and her consent to that channel (and topic). The inbox, behind her login, needs
   neither; it is always bound.
4. WeChat restricts template messages to service notices: items of an ``inbox_only`` priority
   (lessons) go to the inbox, and their notice is the weekly digest (an item of its own);
   even when a rule narrows such an item's channels, ``wechat_template`` is never used.
5. External messages only inside the send window; at most ``daily_cap`` external messages per
   pregnancy per local day, served by priority (escalation, clinical, service, education).
   An urgent message (``urgent: true`` in the pathway, safety advice only) goes at any hour
   and outside the cap: it neither waits for it nor uses it up (issue 16 item 1).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType

from carepath.engine.timing import SendWindow

#: Served in this order when the cap cannot take everything due.
PRIORITIES = ("escalation", "clinical", "service", "education")

#: Channels that do not leave carepath: no consent, window or cap applies to them.
INTERNAL_CHANNELS = frozenset({"inbox", "console"})

DEFAULT_FALLBACK = ("wechat_template", "wechat_subscribe", "sms_tencent", "inbox")

# Reasons; stable, shown to staff and in exports.
CANCELLED = "cancelled"
EXPIRED = "expired"
NO_CONSENT = "no-consent"
NO_BINDING = "no-binding"
NO_CHANNEL = "no-channel"
OUTSIDE_WINDOW = "outside-window"
DAILY_CAP = "daily-cap"
QUOTA = "quota"
NOT_DUE = "not-due"
PAUSED_ALL = "paused:all"
PAUSED_PATHWAY = "paused:pathway"
PAUSED_CHANNEL = "paused:channel"
PAUSED_PREGNANCY = "paused:pregnancy"
ALL_FAILED = "all-channels-failed"


def is_external(channel: str) -> bool:
    return channel not in INTERNAL_CHANNELS


# --- inputs -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DueItem:
    """An outbox row as the policy sees it. ``channels`` is what the rule narrowed them to
    (empty: her fallback order); ``failed`` the channels that failed permanently for it."""

    dedupe_key: str
    priority: str
    topic: str
    pathway: str
    due_at: datetime
    kind: str = "push"
    channels: tuple[str, ...] = ()
    expires_at: datetime | None = None
    failed: frozenset[str] = frozenset()
    cancelled: bool = False
    urgent: bool = False  # sent at any hour, outside her daily cap

    def __post_init__(self) -> None:
        if self.priority not in PRIORITIES:
            raise ValueError(f"priority must be one of {PRIORITIES}, not {self.priority!r}")

    @property
    def rank(self) -> tuple[int, datetime, str]:
        return (PRIORITIES.index(self.priority), self.due_at, self.dedupe_key)


@dataclass(frozen=True)
class Consent:
    """Her consents as recorded: the separate health-information opt-in (PIPL art. 29), the
    external channels she agreed to, and topics she turned off (everywhere or per channel)."""

    health_information: bool = False
    channels: frozenset[str] = frozenset()
    refused_topics: frozenset[str] = frozenset()
    refused: frozenset[tuple[str, str]] = frozenset()  # (channel, topic)

    def allows(self, channel: str, topic: str) -> bool:
        if not is_external(channel):
            return True
        return (
            self.health_information
            and channel in self.channels
            and topic not in self.refused_topics
            and (channel, topic) not in self.refused
        )


@dataclass(frozen=True)
class Recipient:
    """One pregnancy's side: consent, bindings (channel -> openid / phone / id), her own
    fallback order when she chose one, and the external messages already sent (or in flight)
    to her on the local day of ``now`` (urgent ones not counted: they do not use her cap)."""

    consent: Consent
    bindings: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    fallback_order: tuple[str, ...] = ()
    sent_today: int = 0
    #: A suspected loss holds every message to her (a ``pregnancy`` pause, issue 16 item 7).
    held: bool = False


@dataclass(frozen=True)
class KillSwitches:
    all: bool = False
    pathways: frozenset[str] = frozenset()
    channels: frozenset[str] = frozenset()
    #: Pregnancies held by a suspected loss (issue 16 item 7); ``Recipient.held`` for each.
    pregnancies: frozenset[str] = frozenset()


@dataclass(frozen=True)
class HospitalPolicy:
    """One hospital's delivery settings and the state of its switches and channel quotas."""

    window: SendWindow = field(default_factory=SendWindow)
    daily_cap: int = 3
    fallback_order: tuple[str, ...] = DEFAULT_FALLBACK
    inbox_only: frozenset[str] = frozenset({"education"})
    kill: KillSwitches = field(default_factory=KillSwitches)
    quota_until: Mapping[str, datetime] = field(default_factory=lambda: MappingProxyType({}))


# --- decisions --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Send:
    channel: str
    recipient: str


@dataclass(frozen=True)
class Hold:
    until: datetime | None  # None: until a kill switch is released
    reason: str


@dataclass(frozen=True)
class Skip:
    reason: str


@dataclass(frozen=True)
class DeadLetter:
    reason: str


Decision = Send | Hold | Skip | DeadLetter


# --- the policy -------------------------------------------------------------------------------


def in_window(window: SendWindow, moment: datetime) -> bool:
    day = window.local_date(moment)
    return window.opening(day) <= moment <= window.closing(day)


def next_opening(window: SendWindow, moment: datetime) -> datetime:
    """The opening of the local day after ``moment``'s."""
    return window.opening(window.local_date(moment) + timedelta(days=1))


def candidates(item: DueItem, her: Recipient, policy: HospitalPolicy) -> tuple[str, ...]:
    """The channels to try, in order, before consent and bindings are looked at."""
    order = item.channels or her.fallback_order or policy.fallback_order
    if item.priority in policy.inbox_only:
        order = tuple(c for c in item.channels if c != "wechat_template") if item.channels else ("inbox",)
    return tuple(dict.fromkeys(order))  # first mention wins


def decide(
    items: Iterable[DueItem], her: Recipient, policy: HospitalPolicy, now: datetime
) -> list[tuple[DueItem, Decision]]:
    """One decision per item, in serving order (see the module docstring)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    served = sorted(items, key=lambda item: item.rank)
    budget = max(policy.daily_cap - her.sent_today, 0)
    plan: list[tuple[DueItem, Decision]] = []
    for item in served:
        decision = _decide_one(item, her, policy, now, budget)
        if isinstance(decision, Send) and is_external(decision.channel) and not item.urgent:
            budget -= 1
        plan.append((item, decision))
    return plan


def _decide_one(
    item: DueItem, her: Recipient, policy: HospitalPolicy, now: datetime, budget: int
) -> Decision:
    if item.cancelled:
        return Skip(CANCELLED)
    if item.expires_at is not None and now >= item.expires_at:
        return Skip(EXPIRED)
    if policy.kill.all:
        return Hold(None, PAUSED_ALL)
    if item.pathway in policy.kill.pathways:
        return Hold(None, PAUSED_PATHWAY)
    if her.held:
        return Hold(None, PAUSED_PREGNANCY)
    if item.due_at > now:
        return _hold(item, item.due_at, NOT_DUE)

    passed_over: list[str] = []
    quota_resets: list[datetime] = []
    for channel in candidates(item, her, policy):
        reason = _unusable(channel, item, her, policy, now)
        if reason == QUOTA:
            quota_resets.append(policy.quota_until[channel])
        if reason is not None:
            passed_over.append(reason)
            continue
        if channel in policy.kill.channels:
            return Hold(None, f"{PAUSED_CHANNEL}:{channel}")
        if is_external(channel) and not item.urgent:
            if not in_window(policy.window, now):
                return _hold(item, policy.window.place(now), OUTSIDE_WINDOW)
            if budget <= 0:
                return _hold(item, next_opening(policy.window, now), DAILY_CAP)
        return Send(channel, her.bindings.get(channel, ""))

    if quota_resets:
        return _hold(item, min(quota_resets), QUOTA)
    if "failed" in passed_over:
        return DeadLetter(f"{ALL_FAILED}: {', '.join(sorted(item.failed))}")
    for reason in (NO_CONSENT, NO_BINDING):
        if reason in passed_over:
            return Skip(reason)
    return Skip(NO_CHANNEL)


def _unusable(
    channel: str, item: DueItem, her: Recipient, policy: HospitalPolicy, now: datetime
) -> str | None:
    if channel in item.failed:
        return "failed"
    if not is_external(channel):
        return None
    if not her.consent.allows(channel, item.topic):
        return NO_CONSENT
    if not her.bindings.get(channel):
        return NO_BINDING
    reset = policy.quota_until.get(channel)
    if reset is not None and reset > now:
        return QUOTA
    return None


def _hold(item: DueItem, until: datetime, reason: str) -> Decision:
    if item.expires_at is not None and until >= item.expires_at:
        return Skip(EXPIRED)
    return Hold(until, reason)


def policy_from_config(config: Mapping[str, object]) -> HospitalPolicy:
    """A hospital's ``delivery:`` settings (see examples/hospital/channels.yaml): the default
    fallback order. Its ``window`` and ``daily_cap`` are the hospital's settings in the
    database (``store/hospital_settings.py``, imported from this section once); the
    dispatcher puts them into the policy it decides with."""
    order = config.get("fallback_order") or DEFAULT_FALLBACK
    if not isinstance(order, list | tuple) or not all(isinstance(c, str) for c in order):
        raise ValueError("delivery.fallback_order must be a list of channel names")
    return HospitalPolicy(fallback_order=tuple(order))
