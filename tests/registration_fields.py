"""A registration form as her browser posts it, for the store, page and browser tests.

The risk screen's answers are made from its form file (another issue changes its items): each
required single choice takes its first choice, a multiple choice its exclusive "none" (else its
first), so the fields follow the file; ``screen`` overrides single items by id.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from carepath.store.registration_form import NOTICE_VERSION, screen_form
from tests.conftest import resident_id


def screen_fields(**screen: str) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for item in screen_form().items:
        if item.id in screen:
            fields[f"screen.{item.id}"] = screen[item.id]
        elif item.type == "single" and item.required:
            fields[f"screen.{item.id}"] = item.choices[0].value
        elif item.type == "multiple" and item.required:
            exclusive = [c.value for c in item.choices if c.exclusive]
            fields[f"screen.{item.id}"] = [exclusive[0] if exclusive else item.choices[0].value]
    return fields


def form_fields(n: int = 1, **override: Any) -> dict[str, Any]:
    """A valid form of a woman born 1990-04-12 (``resident_id(n)``), LMP 2026-03-02 (18+4 on
    2026-07-10, the tests' day)."""
    fields: dict[str, Any] = {
        "name": "张丽",
        "id_type": "resident",
        "id_number": resident_id(n),
        "phone": f"1391234{n:04d}",
        "dating_method": "lmp",
        "lmp": "2026-03-02",
        "height_cm": "162",
        "weight_kg": "55",
        "gravida": "1",
        "para": "0",
        "notice": NOTICE_VERSION,
        "consent_health": "yes",
        "consent_wechat": "yes",
        "consent_sms": "yes",
        **screen_fields(),
    }
    fields.update(override)
    return {k: v for k, v in fields.items() if v is not None}


def getters(fields: dict[str, Any]) -> tuple[Callable[[str], str], Callable[[str], list[str]]]:
    def get(name: str) -> str:
        value = fields.get(name, "")
        return value[0] if isinstance(value, list) else str(value)

    def get_list(name: str) -> list[str]:
        value = fields.get(name, [])
        return value if isinstance(value, list) else [str(value)]

    return get, get_list
