"""Outbox actions in the policy's terms."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from carepath.delivery.items import adapters_for, due_item, priority_of, topic_of
from carepath.delivery.policy import Consent, HospitalPolicy, Recipient, Send, decide

NOON = datetime(2026, 6, 20, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai


def test_reminders_are_clinical_questionnaires_service_lessons_education() -> None:
    assert priority_of("remind", {"content": "ogtt-reminder"}) == "clinical"
    assert priority_of("questionnaire", {"form": "epds"}) == "service"
    assert priority_of("push", {"content": "week-24"}) == "education"
    assert priority_of("remind", {"content": "danger-signs", "priority": "urgent"}) == "escalation"
    with pytest.raises(ValueError):
        priority_of("task", {})


def test_topics_are_the_content_or_the_form() -> None:
    assert topic_of("push", {"content": "week-24"}) == "week-24"
    assert topic_of("questionnaire", {"form": "epds"}) == "epds"


def test_language_channels_map_to_the_hospitals_adapters() -> None:
    assert adapters_for(["wechat", "sms"]) == ("wechat_template", "sms_tencent")
    aliyun = {"sms": "sms_aliyun", "inbox": "inbox"}
    assert adapters_for(["sms"], aliyun) == ("sms_aliyun",)
    with pytest.raises(ValueError, match="wechat"):
        adapters_for(["wechat"], aliyun)


def test_a_lesson_from_the_outbox_lands_in_the_inbox() -> None:
    item = due_item(
        dedupe_key="p1/school@v1/week/2026-06-20/0",
        kind="push",
        params={"content": "week-24"},
        pathway="school",
        due_at=NOON,
    )
    her = Recipient(Consent(True, frozenset({"wechat_template"})), {"wechat_template": "o-1", "inbox": "p1"})
    ((_, decision),) = decide([item], her, HospitalPolicy(), NOON)
    assert decision == Send("inbox", "p1")


def test_the_example_hospital_chooses_its_sms_vendor() -> None:
    from pathlib import Path

    import yaml

    from carepath.delivery.items import adapters_from_config

    path = Path(__file__).resolve().parents[2] / "examples" / "hospital" / "channels.yaml"
    config = yaml.safe_load(path.read_text(encoding="utf-8"))["delivery"]
    assert adapters_from_config(config)["sms"] == "sms_tencent"
    assert adapters_from_config({"sms": "sms_aliyun"})["sms"] == "sms_aliyun"
    with pytest.raises(ValueError):
        adapters_from_config({"sms": "carrier-pigeon"})
