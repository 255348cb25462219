"""Sending the on-call notices of urgent staff tasks (issue 17 item 1; who and when:
``store/on_call.py``).

One run (the scheduler's ``on_call`` job): recover notices a dead process left in flight, plan
the notices due now, claim them (each with a fresh one-time token, committed before any call),
send each through the hospital's SMS adapter (or its webhook when it has no SMS) and record the
outcomes. The notices due for the same person about the same woman go as ONE message (her
tasks ride on one link; ``store/on_call.py`` says which). SMS goes to a mobile number of the
roster as ``+86…``; a landline cannot take one and fails at once, so the next person is told.
As for her messages, a call whose outcome is unknown is never repeated (a duplicate page at
3 a.m. is worse than the next person being told), and a call that never reached the provider
is tried again, up to ``on_call.MAX_ATTEMPTS``.

The SMS carries the neutral text and the link as template fields ``1`` and ``2`` of the
hospital's ``on-call-task`` template; the webhook carries them as ``summary`` and ``link``.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType

from carepath.channels.base import (
    BAD_RECIPIENT,
    Message,
    PermanentError,
    QuotaError,
    RetryableError,
)
from carepath.delivery.dispatch_settings import ChannelsForHospital
from carepath.store import on_call
from carepath.store.db import Database

log = logging.getLogger("carepath.delivery")

#: The notification kind, whose template the hospital's SMS account holds.
KIND = "on-call-task"
_MOBILE = re.compile(r"1\d{10}")


@dataclass
class OnCallReport:
    planned: int = 0
    sent: int = 0
    failed: int = 0
    retrying: int = 0
    recovered: int = 0


def channel_for(channels_for_hospital: ChannelsForHospital) -> on_call.ChannelFor:
    """Which adapter carries a hospital's notices: its SMS vendor, else its webhook, else none."""

    def choose(hospital_id: str) -> str | None:
        hospital = channels_for_hospital(hospital_id)
        sms = hospital.adapters.get("sms")
        if sms and sms in hospital.channels:
            return sms
        return "webhook" if "webhook" in hospital.channels else None

    return choose


def sms_number(phone: str) -> str:
    """A roster phone as the SMS vendors take it (``+8613800000000``); a landline is refused."""
    digits = "".join(c for c in phone if c.isdigit())
    if digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    if not _MOBILE.fullmatch(digits):
        raise PermanentError(f"{phone!r} is not a mobile number: no SMS", reason=BAD_RECIPIENT)
    return f"+86{digits}"


def _message(out: on_call.Outgoing) -> Message:
    sms = out.channel.startswith("sms_")
    params = {"1": out.text, "2": out.link} if sms else {}
    return Message(
        dedupe_key=f"on-call/{out.task_id}/{out.step}",
        hospital_id=out.hospital_id,
        kind=KIND,
        recipient=sms_number(out.phone) if sms else out.phone,
        summary=out.text,
        link=out.link,
        params=MappingProxyType(params),
    )


def route_once(db: Database, now: datetime, channels_for_hospital: ChannelsForHospital) -> OnCallReport:
    """One run of on-call routing (see the module's docstring)."""
    report = OnCallReport()
    report.recovered = on_call.recover(db, now)
    report.planned = on_call.plan(db, now, channel_for(channels_for_hospital))
    outcomes: list[on_call.Outcome] = []
    for out in on_call.claim(db, now):
        covers = out.covers  # her other tasks for the same person: one message carries them
        try:
            channel = channels_for_hospital(out.hospital_id).channels.get(out.channel)
            if channel is None:
                raise PermanentError(
                    f"{out.channel}: not configured for this hospital", reason="config-error"
                )
            receipt = channel.send(_message(out))
        except RetryableError as error:
            unknown = error.outcome_unknown
            outcomes.append(
                on_call.Outcome(out.notice_id, retry=not unknown, error=_said(error, unknown), covers=covers)
            )
        except (PermanentError, QuotaError) as error:
            outcomes.append(on_call.Outcome(out.notice_id, error=str(error), covers=covers))
        except Exception as error:  # an adapter bug: the call may have gone out; never repeat it
            log.exception("on-call notice %s: unexpected error", out.notice_id)
            outcomes.append(on_call.Outcome(out.notice_id, error=f"outcome-unknown: {error}", covers=covers))
        else:
            outcomes.append(
                on_call.Outcome(
                    out.notice_id, sent=True, provider_message_id=receipt.provider_message_id, covers=covers
                )
            )
    on_call.record(db, now, outcomes)
    for outcome in outcomes:
        if outcome.sent:
            report.sent += 1
        elif outcome.retry:
            report.retrying += 1
        else:
            report.failed += 1
            log.warning("on-call notice %s not sent: %s", outcome.notice_id, outcome.error)
    return report


def _said(error: RetryableError, unknown: bool) -> str:
    return f"outcome-unknown: {error}" if unknown else f"nothing sent: {error}"
