"""Delivery policy decisions per second: 10,000 pregnancies with 5 due items each.

.venv/bin/python bench/policy.py [pregnancies]
"""

from __future__ import annotations

import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from carepath.delivery.policy import PRIORITIES, Consent, DueItem, HospitalPolicy, Recipient, decide

EXTERNAL = frozenset({"wechat_template", "wechat_subscribe", "sms_tencent"})


def main() -> None:
    pregnancies = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    rng = random.Random(1)
    now = datetime(2026, 6, 20, 4, 0, tzinfo=UTC)  # noon in Shanghai
    policy = HospitalPolicy(daily_cap=3)
    work = []
    for p in range(pregnancies):
        her = Recipient(
            Consent(health_information=rng.random() < 0.9, channels=EXTERNAL),
            {"wechat_template": f"o-{p}", "sms_tencent": "+8613800000000", "inbox": f"p{p}"},
            sent_today=rng.randint(0, 2),
        )
        items = [
            DueItem(
                f"p{p}/{i}",
                rng.choice(PRIORITIES),
                "topic",
                "school",
                now - timedelta(minutes=rng.randint(0, 600)),
            )
            for i in range(5)
        ]
        work.append((items, her))
    started = time.perf_counter()
    decided = sum(len(decide(items, her, policy, now)) for items, her in work)
    elapsed = time.perf_counter() - started
    print(f"{decided} decisions for {pregnancies} pregnancies in {elapsed:.2f} s: {decided / elapsed:,.0f}/s")


if __name__ == "__main__":
    main()
