"""What the dispatcher runs with: its timings and, per hospital, its channels and policy."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from types import MappingProxyType

from carepath.channels.base import Channel
from carepath.delivery import policy as pol
from carepath.delivery.items import DEFAULT_ADAPTERS
from carepath.delivery.retry import RetryBudget


@dataclass(frozen=True)
class DispatchSettings:
    """``dedupe_window``: how long after a call with an unknown outcome a repeat with the same
    ``client_msg_id`` is still dropped by WeChat (keep it below what WeChat honours).
    ``stale_after``: a row in flight longer than this has lost its dispatcher (longer than any
    provider call can take with the adapters' timeouts). ``pause_recheck``: how often rows held
    by a kill switch are looked at again (``resume`` releases them at once anyway)."""

    retry: RetryBudget = field(default_factory=RetryBudget)
    dedupe_window: timedelta = timedelta(minutes=5)
    stale_after: timedelta = timedelta(minutes=2)
    pause_recheck: timedelta = timedelta(minutes=1)


@dataclass(frozen=True)
class HospitalDelivery:
    """What one hospital delivers with: its channels (adapter name -> adapter), its policy
    (fallback order, inbox-only priorities; the window and the daily cap come from the
    hospital's settings in the database), the pathway-language -> adapter map, the WeChat
    appid per adapter (an openid belongs to one account) and the base of the links external
    messages carry to her inbox (her item page; the hospital's ``public_base_url`` setting,
    when set, makes it ``<public_base_url>/h5/inbox``: ``claiming.links_of``)."""

    channels: Mapping[str, Channel]
    policy: pol.HospitalPolicy = field(default_factory=pol.HospitalPolicy)
    adapters: Mapping[str, str] = field(default_factory=lambda: DEFAULT_ADAPTERS)
    accounts: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    link_base: str = "/h5/inbox"


ChannelsForHospital = Callable[[str], HospitalDelivery]
