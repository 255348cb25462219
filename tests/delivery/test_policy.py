"""Delivery policy: worked examples, then hypothesis properties over random due items."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from carepath.delivery.policy import (
    DAILY_CAP,
    EXPIRED,
    NO_BINDING,
    NO_CONSENT,
    OUTSIDE_WINDOW,
    PRIORITIES,
    QUOTA,
    Consent,
    DeadLetter,
    Decision,
    DueItem,
    Hold,
    HospitalPolicy,
    KillSwitches,
    Recipient,
    Send,
    Skip,
    decide,
    in_window,
    is_external,
)
from carepath.engine.timing import SendWindow

SHANGHAI = ZoneInfo("Asia/Shanghai")
WINDOW = SendWindow("Asia/Shanghai", time(9, 0), time(20, 0))
NOON = datetime(2026, 6, 20, 12, 0, tzinfo=SHANGHAI)
EXTERNAL = ("wechat_template", "wechat_subscribe", "sms_tencent", "sms_aliyun", "webhook")
ALL_CHANNELS = (*EXTERNAL, "inbox")

HER = Recipient(
    consent=Consent(health_information=True, channels=frozenset(EXTERNAL)),
    bindings={
        "wechat_template": "o-1",
        "wechat_subscribe": "o-m-1",
        "sms_tencent": "+8613800005678",
        "inbox": "p1",
    },
)
POLICY = HospitalPolicy(window=WINDOW, daily_cap=2)


def item(key: str, priority: str = "clinical", **changes: object) -> DueItem:
    fields: dict[str, object] = {
        "dedupe_key": key,
        "priority": priority,
        "topic": "checkup",
        "pathway": "checkups",
        "due_at": NOON - timedelta(minutes=1),
    }
    fields.update(changes)
    return DueItem(**fields)  # type: ignore[arg-type]


def decisions(
    items: list[DueItem], her: Recipient = HER, policy: HospitalPolicy = POLICY, now: datetime = NOON
) -> dict[str, Decision]:
    return {i.dedupe_key: d for i, d in decide(items, her, policy, now)}


def test_a_clinical_reminder_goes_through_the_first_channel_of_the_fallback_order() -> None:
    assert decisions([item("a")]) == {"a": Send("wechat_template", "o-1")}


def test_a_lesson_goes_to_the_inbox_not_a_template_message() -> None:
    assert decisions([item("a", "education")]) == {"a": Send("inbox", "p1")}
    narrowed = item("b", "education", channels=("wechat_template", "sms_tencent"))
    assert decisions([narrowed]) == {"b": Send("sms_tencent", "+8613800005678")}


def test_at_22_00_the_message_waits_for_the_next_morning() -> None:
    late = NOON.replace(hour=22)
    assert decisions([item("a", due_at=late)], now=late) == {
        "a": Hold(datetime(2026, 6, 21, 9, 0, tzinfo=SHANGHAI), OUTSIDE_WINDOW)
    }


def test_the_cap_serves_escalations_first_and_moves_the_rest_to_the_next_opening() -> None:
    items = [item("lesson", "service"), item("visit", "clinical"), item("urgent", "escalation")]
    got = decisions(items)
    assert got["urgent"] == Send("wechat_template", "o-1")
    assert got["visit"] == Send("wechat_template", "o-1")
    assert got["lesson"] == Hold(datetime(2026, 6, 21, 9, 0, tzinfo=SHANGHAI), DAILY_CAP)


def test_what_the_cap_holds_is_dropped_only_when_it_would_expire() -> None:
    her = Recipient(HER.consent, HER.bindings, sent_today=2)
    keeps = item("a", expires_at=NOON + timedelta(days=2))
    expires = item("b", expires_at=NOON + timedelta(hours=3))
    got = decisions([keeps, expires], her=her)
    assert isinstance(got["a"], Hold) and got["a"].reason == DAILY_CAP
    assert got["b"] == Skip(EXPIRED)


def test_without_the_health_information_opt_in_only_the_inbox_is_used() -> None:
    her = Recipient(Consent(health_information=False, channels=frozenset(EXTERNAL)), HER.bindings)
    assert decisions([item("a")], her=her) == {"a": Send("inbox", "p1")}
    assert decisions([item("b", channels=("sms_tencent",))], her=her) == {"b": Skip(NO_CONSENT)}


def test_a_topic_she_turned_off_skips_that_channel() -> None:
    consent = Consent(True, frozenset(EXTERNAL), refused=frozenset({("wechat_template", "checkup")}))
    her = Recipient(consent, HER.bindings)
    assert decisions([item("a")], her=her) == {"a": Send("wechat_subscribe", "o-m-1")}


def test_no_binding_for_a_narrowed_channel_is_skipped_with_the_reason() -> None:
    assert decisions([item("a", channels=("sms_aliyun",))]) == {"a": Skip(NO_BINDING)}


def test_a_permanent_failure_falls_back_and_all_failed_is_dead_lettered() -> None:
    assert decisions([item("a", failed=frozenset({"wechat_template"}))]) == {
        "a": Send("wechat_subscribe", "o-m-1")
    }
    everything = frozenset(POLICY.fallback_order)
    got = decisions([item("b", failed=everything)])["b"]
    assert isinstance(got, DeadLetter) and "wechat_template" in got.reason


def test_a_spent_quota_falls_back_or_waits_for_the_reset() -> None:
    tomorrow = NOON + timedelta(hours=12)
    policy = HospitalPolicy(window=WINDOW, quota_until={"wechat_template": tomorrow})
    assert decisions([item("a")], policy=policy) == {"a": Send("wechat_subscribe", "o-m-1")}
    only_template = item("b", channels=("wechat_template",))
    assert decisions([only_template], policy=policy) == {"b": Hold(tomorrow, QUOTA)}


def test_kill_switches_hold_without_rerouting() -> None:
    for kill, reason in (
        (KillSwitches(all=True), "paused:all"),
        (KillSwitches(pathways=frozenset({"checkups"})), "paused:pathway"),
        (KillSwitches(channels=frozenset({"wechat_template"})), "paused:channel:wechat_template"),
    ):
        policy = HospitalPolicy(window=WINDOW, kill=kill)
        assert decisions([item("a")], policy=policy) == {"a": Hold(None, reason)}


def test_cancelled_rows_are_never_sent() -> None:
    assert decisions([item("a", cancelled=True)]) == {"a": Skip("cancelled")}


# --- properties ---------------------------------------------------------------------------------

#: Local minutes of the day lean towards daytime so that most examples reach the send path.
moments = st.tuples(st.integers(0, 364), st.integers(0, 1439) | st.integers(480, 1200)).map(
    lambda day_minute: (
        datetime(2026, 1, 1, tzinfo=SHANGHAI) + timedelta(days=day_minute[0], minutes=day_minute[1])
    ).astimezone(UTC)
)
mostly = st.integers(0, 4).map(lambda n: n > 0)
rarely = st.integers(0, 7).map(lambda n: n == 0)
channel_sets = st.frozensets(st.sampled_from(ALL_CHANNELS), max_size=2)


item_fields = st.tuples(
    st.sampled_from(PRIORITIES),
    st.sampled_from(("checkup", "lesson", "gdm")),
    st.sampled_from(("school", "checkups")),
    st.integers(0, 3000),  # minutes overdue
    st.lists(st.sampled_from(ALL_CHANNELS), max_size=3),
    st.none() | st.integers(-5, 60),  # hours until it expires
    channel_sets,
    rarely,  # cancelled
)


def due_items(
    now: datetime, drawn: list[tuple[str, str, str, int, list[str], int | None, frozenset[str], bool]]
) -> list[DueItem]:
    return [
        DueItem(
            dedupe_key=f"k{index}",
            priority=priority,
            topic=topic,
            pathway=pathway,
            due_at=now - timedelta(minutes=overdue),
            channels=tuple(channels),
            expires_at=None if expires is None else now + timedelta(hours=expires),
            failed=failed,
            cancelled=cancelled,
        )
        for index, (priority, topic, pathway, overdue, channels, expires, failed, cancelled) in enumerate(
            drawn
        )
    ]


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[DueItem], Recipient, HospitalPolicy, datetime]:
    now = draw(moments)
    items = due_items(now, draw(st.lists(item_fields, max_size=8)))
    consent = Consent(
        health_information=draw(mostly),
        channels=draw(st.frozensets(st.sampled_from(EXTERNAL), min_size=1)),
        refused_topics=draw(st.frozensets(st.sampled_from(("lesson", "gdm")))),
    )
    bound = draw(st.frozensets(st.sampled_from(ALL_CHANNELS)))
    her = Recipient(
        consent,
        {channel: f"id-{channel}" for channel in bound},
        fallback_order=tuple(draw(st.lists(st.sampled_from(ALL_CHANNELS), max_size=4))),
        sent_today=draw(st.integers(0, 3)),
    )
    opens = draw(st.integers(6, 10))
    window = SendWindow("Asia/Shanghai", time(opens, 0), time(draw(st.integers(opens + 1, 22)), 0))
    policy = HospitalPolicy(
        window=window,
        daily_cap=draw(st.integers(0, 5)),
        kill=KillSwitches(
            all=draw(rarely),
            pathways=frozenset({"school"}) if draw(rarely) else frozenset(),
            channels=draw(st.frozensets(st.sampled_from(EXTERNAL), max_size=1)),
        ),
        quota_until={
            c: now + timedelta(hours=5) for c in draw(st.frozensets(st.sampled_from(EXTERNAL), max_size=2))
        },
    )
    return items, her, policy, now


Scenario = tuple[list[DueItem], Recipient, HospitalPolicy, datetime]


def external_sends(plan: list[tuple[DueItem, Decision]]) -> list[tuple[DueItem, Send]]:
    return [(i, d) for i, d in plan if isinstance(d, Send) and is_external(d.channel)]


@settings(max_examples=120, deadline=None)
@given(scenarios())
def test_never_sends_externally_outside_the_window(scenario: Scenario) -> None:
    items, her, policy, now = scenario
    if not in_window(policy.window, now):
        assert external_sends(decide(items, her, policy, now)) == []


@settings(max_examples=120, deadline=None)
@given(scenarios())
def test_never_exceeds_the_daily_cap(scenario: Scenario) -> None:
    items, her, policy, now = scenario
    assert len(external_sends(decide(items, her, policy, now))) <= max(policy.daily_cap - her.sent_today, 0)


@settings(max_examples=120, deadline=None)
@given(scenarios())
def test_never_sends_externally_without_consent_and_a_binding(scenario: Scenario) -> None:
    items, her, policy, now = scenario
    for item, send in external_sends(decide(items, her, policy, now)):
        assert her.consent.health_information
        assert send.channel in her.consent.channels and item.topic not in her.consent.refused_topics
        assert send.recipient == her.bindings[send.channel]


@settings(max_examples=120, deadline=None)
@given(scenarios())
def test_the_cap_holds_lower_priorities_never_higher_ones(scenario: Scenario) -> None:
    items, her, policy, now = scenario
    plan = decide(items, her, policy, now)
    assert [i.rank for i, _ in plan] == sorted(i.rank for i, _ in plan)
    held = [i for i, d in plan if isinstance(d, Hold) and d.reason == DAILY_CAP]
    for sent, _ in external_sends(plan):
        for waiting in held:
            assert sent.rank < waiting.rank


@settings(max_examples=120, deadline=None)
@given(scenarios())
def test_every_item_gets_one_decision_and_nothing_is_dropped_silently(scenario: Scenario) -> None:
    items, her, policy, now = scenario
    plan = decide(items, her, policy, now)
    assert sorted(i.dedupe_key for i, _ in plan) == sorted(i.dedupe_key for i in items)
    for item, decision in plan:
        if isinstance(decision, Skip):
            assert decision.reason in {"cancelled", EXPIRED, NO_CONSENT, NO_BINDING, "no-channel"}
            if decision.reason == EXPIRED:
                assert item.expires_at is not None
        if isinstance(decision, Hold) and decision.until is not None:
            assert decision.until > now
            if decision.reason in (OUTSIDE_WINDOW, DAILY_CAP):
                assert in_window(policy.window, decision.until)
        if isinstance(decision, Send):
            assert decision.channel not in item.failed
            assert decision.channel not in policy.kill.channels
            assert not policy.kill.all and item.pathway not in policy.kill.pathways
            assert not (item.priority == "education" and decision.channel == "wechat_template")
            assert not item.cancelled


@settings(max_examples=100, deadline=None)
@given(scenarios(), st.randoms(use_true_random=False))
def test_decisions_do_not_depend_on_the_order_items_arrive_in(scenario: Scenario, rng: object) -> None:
    items, her, policy, now = scenario
    shuffled = list(items)
    rng.shuffle(shuffled)  # type: ignore[attr-defined]
    assert decide(shuffled, her, policy, now) == decide(items, her, policy, now)


def test_the_example_hospital_configuration_gives_its_policy() -> None:
    from pathlib import Path

    import yaml

    from carepath.delivery.policy import policy_from_config
    from carepath.store.hospital_settings import DEFAULTS, delivery_values

    path = Path(__file__).resolve().parents[2] / "examples" / "hospital" / "channels.yaml"
    delivery = yaml.safe_load(path.read_text(encoding="utf-8"))["delivery"]
    policy = policy_from_config(delivery)
    assert policy.fallback_order[-1] == "inbox"
    # The window and the cap are the hospital's settings, imported from this section once.
    imported = replace(DEFAULTS, **delivery_values(delivery, "channels.yaml"))
    assert imported.window == WINDOW
    assert imported.daily_cap == 3
