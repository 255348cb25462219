from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.conftest import NOW
from tests.delivery.conftest import HOSPITAL, OA_APPID, add_pregnancy


def test_consent_view_and_withdrawal(db: Any, cipher: Any) -> None:
    from carepath.store import consents
    from carepath.store.models import ChannelBinding

    patient_id, pregnancy_id = add_pregnancy(db, cipher, 1, openid="o-1", phone="13812345678")
    with db.transaction() as session:
        rows = consents.active_consents(session, [patient_id])[patient_id]
        health, channels, _, _ = consents.consent_view(rows, pregnancy_id)
        assert health and channels == {"wechat_template", "sms_tencent"}
        bindings = consents.active_bindings(session, cipher, [patient_id], {"wechat_template": OA_APPID})
        assert bindings[patient_id] == {
            "wechat_template": "o-1",
            "sms_tencent": "+8613812345678",
            "sms_aliyun": "+8613812345678",
        }
        stored = session.query(ChannelBinding).filter_by(kind="phone").one()
        assert stored.value is None and "13812345678" not in (stored.value_sealed or "")
        consents.record_consent(
            session, hospital_id=HOSPITAL, patient_id=patient_id, channel="*", topic="week-20",
            granted=False, notice_version="2026-01", source="mini-program", at=NOW,
        )  # fmt: skip
    with db.transaction() as session:
        withdrawn = consents.withdraw_consent(
            session, patient_id=patient_id, topic="health-information", at=NOW + timedelta(hours=1)
        )
        assert withdrawn == 1
        rows = consents.active_consents(session, [patient_id])[patient_id]
        health, channels, refused_topics, _ = consents.consent_view(rows, pregnancy_id)
        assert not health and refused_topics == {"week-20"}
