"""Her dating evidence in words on her record (``record/record.html``): the data the HIS sent
with each dating (``lmp``, ``cycle_length``, ``ultrasound``, ``ivf``, ``edd``) said as a
doctor reads it, in the page's language; a key this page does not know is shown as it is."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext


def details(data: Any) -> str:
    """``{"ivf": {"transfer_date": "2026-07-15", "embryo_day": 5}}`` -> 胚胎移植日 2026-07-15，第5天胚胎."""
    if not isinstance(data, dict):
        return "" if data is None else str(data)
    said = [_one(key, value) for key, value in data.items() if value not in (None, "", {})]
    return gettext("; ").join(said)


def _one(key: str, value: Any) -> str:
    inner = value if isinstance(value, dict) else {}
    if key == "lmp" and isinstance(value, str):
        return gettext("LMP %(date)s", date=value)
    if key == "cycle_length":
        return gettext("cycle of %(days)s days", days=value)
    if key == "edd" and isinstance(value, str):
        return gettext("EDD %(date)s", date=value)
    if key == "ultrasound" and inner.get("scan_date") and inner.get("ga"):
        return gettext("ultrasound on %(date)s: %(ga)s", date=inner["scan_date"], ga=inner["ga"])
    if key == "ivf" and inner.get("transfer_date") and inner.get("embryo_day"):
        return gettext(
            "embryo transfer on %(date)s, a day-%(day)s embryo",
            date=inner["transfer_date"],
            day=inner["embryo_day"],
        )
    return f"{key}: {value}"
