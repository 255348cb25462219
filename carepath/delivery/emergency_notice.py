"""The hospital's emergency notice: what she is sent when urgent safety advice cannot be.

An urgent message (``urgent: true``, safety advice only) whose content item no reviewer has
approved is not held like other unapproved content (``store/approvals.py`` ``gate``): she is
sent this fixed system text instead — never nothing (issue 17 item 1). It is not content: it
carries no clinical advice of its own, only where to turn, and is built from the hospital's
settings (``emergency_phone``). Without a number it says so neutrally (120, China's national
emergency number, and the nearest hospital); ``carepath hospital settings show`` warns staff
that the number is missing, and the dispatcher logs it once per hospital and process.

The row records that it sent the notice: ``content_version`` is ``emergency-notice`` (not a
content hash) and the round's report counts it under that reason.
"""

from __future__ import annotations

import logging
import threading

from carepath.delivery.rendering import RenderedItem

log = logging.getLogger("carepath.delivery")

#: ``content_version`` of a row that sent the emergency notice, and its reason in reports.
MARKER = "emergency-notice"
TITLE = "紧急就医提醒"

_warned: set[str] = set()
_warned_lock = threading.Lock()


def notice(phone: str | None, hospital_id: str = "") -> RenderedItem:
    """The notice for a hospital whose emergency number is ``phone`` (None: not set)."""
    if phone:
        text = f"如有不适请立即就医或拨打急诊电话{phone}，情况危急请拨打120。"
    else:
        text = "如有不适请立即到就近医院就医，情况危急请拨打120。"
        with _warned_lock:
            first = hospital_id not in _warned
            _warned.add(hospital_id)
        if first:
            log.warning(
                "hospital %s has no emergency_phone: urgent advice not yet approved is replaced "
                "by an emergency notice without the hospital's number "
                "(set it with `carepath hospital settings set emergency_phone=…`)",
                hospital_id,
            )
    return RenderedItem(key=MARKER, title=TITLE, summary=text, body=text)
