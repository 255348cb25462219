"""The gestational clock: weeks+days notation, trimesters, and dating of a pregnancy.

Gestational age (GA) is counted in days from the first day of the last menstrual period
(LMP), real or implied; ``24+3`` means 24 completed weeks and 3 days, 171 days.
"""

from __future__ import annotations

import re

from carepath.errors import DatingError

DAYS_PER_WEEK = 7
#: The latest GA the language accepts: beyond 44+6 a pregnancy has been misdated.
MAX_GESTATIONAL_DAYS = 44 * DAYS_PER_WEEK + 6

_GA_PATTERN = re.compile(r"^\s*(\d{1,2})\s*\+\s*(\d)\s*$")


def parse_gestational_age(text: str) -> int:
    """``"24+3"`` -> 171 days. Raises DatingError(``bad-gestational-age``) on anything else."""
    match = _GA_PATTERN.match(text)
    if not match:
        raise DatingError(
            f"{text!r} is not a gestational age; write weeks+days such as '24+3'",
            code="bad-gestational-age",
        )
    weeks, days = int(match.group(1)), int(match.group(2))
    if days >= DAYS_PER_WEEK:
        raise DatingError(
            f"{text!r}: the days after '+' must be 0 to 6", code="bad-gestational-age"
        )
    total = weeks * DAYS_PER_WEEK + days
    if total > MAX_GESTATIONAL_DAYS:
        raise DatingError(
            f"{text!r} is beyond 44+6, longer than any pregnancy", code="bad-gestational-age"
        )
    return total


def format_gestational_age(days: int) -> str:
    """171 -> ``"24+3"``; negative ages (before the LMP) keep their sign: -3 -> ``"-0+3"``."""
    sign = "-" if days < 0 else ""
    weeks, rest = divmod(abs(days), DAYS_PER_WEEK)
    return f"{sign}{weeks}+{rest}"


def trimester(days: int) -> int:
    """Chinese textbook cut-offs: first <14 weeks, second 14+0 to 27+6, third from 28+0."""
    if days < 14 * DAYS_PER_WEEK:
        return 1
    if days < 28 * DAYS_PER_WEEK:
        return 2
    return 3
