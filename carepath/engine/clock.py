"""The gestational clock: weeks+days notation, trimesters, and dating of a pregnancy.

Gestational age (GA) is counted in days from the first day of the last menstrual period
(LMP), real or implied; ``24+3`` means 24 completed weeks and 3 days, 171 days.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from carepath.engine.messages import english, say
from carepath.errors import DatingError, Text

DAYS_PER_WEEK = 7
#: The latest GA the language accepts: beyond 44+6 a pregnancy has been misdated.
MAX_GESTATIONAL_DAYS = 44 * DAYS_PER_WEEK + 6

_GA_PATTERN = re.compile(r"^\s*(\d{1,2})\s*\+\s*(\d)\s*$")


def parse_gestational_age(text: str) -> int:
    """``"24+3"`` -> 171 days. Raises DatingError(``bad-gestational-age``) on anything else."""
    match = _GA_PATTERN.match(text)
    if not match:
        raise _dating("bad-gestational-age", say("bad-gestational-age/not-ga", text=text))
    weeks, days = int(match.group(1)), int(match.group(2))
    if days >= DAYS_PER_WEEK:
        raise _dating("bad-gestational-age", say("bad-gestational-age/days", text=text))
    total = weeks * DAYS_PER_WEEK + days
    if total > MAX_GESTATIONAL_DAYS:
        raise _dating("bad-gestational-age", say("bad-gestational-age/too-long", text=text))
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


# --- Dating a pregnancy --------------------------------------------------------------------
#
# Everything below is pure: callers pass the dates in, nothing here reads the wall clock.

#: Naegele's rule: the EDD is 280 days (40+0) after the LMP of a 28-day cycle.
TERM_DAYS = 280
STANDARD_CYCLE_DAYS = 28
#: Cycle lengths we accept for the Naegele adjustment; outside this the LMP is no dating basis.
MIN_CYCLE_DAYS = 20
MAX_CYCLE_DAYS = 45
#: From conception (day 14 of a 28-day cycle) to birth: 266 days. An embryo transferred on
#: day N after fertilisation was conceived N days earlier, hence EDD = transfer + 266 - N.
CONCEPTION_TO_BIRTH_DAYS = TERM_DAYS - 14
EMBRYO_DAYS = (3, 5)

DatingMethod = Literal["lmp", "ultrasound", "ivf", "edd"]


@dataclass(frozen=True)
class RedatingBand:
    """One row of the ACOG CO 700 table: a GA-by-LMP range and how far an ultrasound may differ.

    ``first_day``/``last_day`` are inclusive gestational days by LMP on the scan date; the
    ultrasound date replaces the LMP date only when the difference is *greater* than
    ``limit_days``.
    """

    label: str
    first_day: int
    last_day: int
    limit_days: int
    measure: str


#: ACOG Committee Opinion 700 (2017), "Methods for estimating the due date", table 1.
ACOG_700_BANDS: tuple[RedatingBand, ...] = (
    RedatingBand("≤8+6", 0, 8 * DAYS_PER_WEEK + 6, 5, "CRL"),
    RedatingBand("9+0–13+6", 9 * DAYS_PER_WEEK, 13 * DAYS_PER_WEEK + 6, 7, "CRL"),
    RedatingBand("14+0–15+6", 14 * DAYS_PER_WEEK, 15 * DAYS_PER_WEEK + 6, 7, "BPD, HC, AC, FL"),
    RedatingBand("16+0–21+6", 16 * DAYS_PER_WEEK, 21 * DAYS_PER_WEEK + 6, 10, "BPD, HC, AC, FL"),
    RedatingBand("22+0–27+6", 22 * DAYS_PER_WEEK, 27 * DAYS_PER_WEEK + 6, 14, "BPD, HC, AC, FL"),
    RedatingBand("≥28+0", 28 * DAYS_PER_WEEK, MAX_GESTATIONAL_DAYS, 21, "BPD, HC, AC, FL"),
)


@dataclass(frozen=True)
class Dating:
    """How a pregnancy is dated: the EDD, the method that gave it, and why.

    ``redated`` is true only when an ultrasound replaced an LMP date (method ``ultrasound``);
    an ultrasound that dates a pregnancy with no LMP is not a redating.
    ``difference_days`` is the ultrasound GA minus the GA by the other dates (LMP or IVF) on the
    scan day, so a positive value means the fetus measures larger than dates. ``band`` is the
    ACOG CO 700 row that decided whether to redate (only for LMP plus ultrasound).
    ``derived`` is, when a documented EDD overrides other inputs, what those inputs would give.
    """

    edd: date
    method: DatingMethod
    reason: str
    redated: bool = False
    lmp_edd: date | None = None
    ultrasound_edd: date | None = None
    difference_days: int | None = None
    band: RedatingBand | None = None
    derived: Dating | None = None

    @property
    def implied_lmp(self) -> date:
        """The LMP of a 28-day cycle that gives this EDD: the day GA 0+0 falls on."""
        return self.edd - timedelta(days=TERM_DAYS)

    def gestational_days(self, on: date) -> int:
        """GA in days on ``on`` by this dating."""
        return gestational_days(self.edd, on)


def gestational_days(edd: date, on: date) -> int:
    """GA in days on ``on``: 280 minus the days still to go to the EDD (negative before LMP)."""
    return TERM_DAYS - (edd - on).days


def gestational_age(edd: date, on: date) -> str:
    """GA on ``on`` in weeks+days notation, e.g. ``"24+2"``."""
    return format_gestational_age(gestational_days(edd, on))


def naegele_edd(lmp: date, cycle_length: int = STANDARD_CYCLE_DAYS) -> date:
    """EDD from the LMP by Naegele's rule, +280 days, shifted by the cycle's excess over 28.

    Adding 280 days, not the calendar form (+1 y −3 m +7 d), which is a day off in some years.
    A longer cycle ovulates later, so the EDD moves by ``cycle_length − 28`` days.
    """
    if not MIN_CYCLE_DAYS <= cycle_length <= MAX_CYCLE_DAYS:
        text = say("bad-cycle-length/range", days=cycle_length, low=MIN_CYCLE_DAYS, high=MAX_CYCLE_DAYS)
        raise _dating("bad-cycle-length", text)
    return lmp + timedelta(days=TERM_DAYS + cycle_length - STANDARD_CYCLE_DAYS)


def ultrasound_edd(scan_date: date, scan_ga_days: int) -> date:
    """EDD implied by an ultrasound that measured ``scan_ga_days`` on ``scan_date``."""
    if not 0 <= scan_ga_days <= MAX_GESTATIONAL_DAYS:
        raise _dating("bad-gestational-age", say("bad-gestational-age/scan", days=scan_ga_days))
    return scan_date + timedelta(days=TERM_DAYS - scan_ga_days)


def ivf_edd(transfer_date: date, embryo_day: int) -> date:
    """EDD after embryo transfer: day-5 (blastocyst) + 261 days, day-3 + 263 days."""
    if embryo_day not in EMBRYO_DAYS:
        raise _dating("bad-embryo-day", say("bad-embryo-day/three-or-five", day=embryo_day))
    return transfer_date + timedelta(days=CONCEPTION_TO_BIRTH_DAYS - embryo_day)


def redating_band(ga_by_lmp_days: int) -> RedatingBand:
    """The ACOG CO 700 band for the GA by LMP on the scan date.

    A scan before the LMP, or later than 44+6 by LMP, means the LMP or the scan date is wrong.
    """
    for band in ACOG_700_BANDS:
        if band.first_day <= ga_by_lmp_days <= band.last_day:
            return band
    raise _dating("bad-scan-date", say("bad-scan-date/outside", ga=format_gestational_age(ga_by_lmp_days)))


def date_by_lmp(lmp: date, cycle_length: int = STANDARD_CYCLE_DAYS) -> Dating:
    """Dating by the LMP alone (Naegele, cycle-adjusted)."""
    edd = naegele_edd(lmp, cycle_length)
    cycle = "" if cycle_length == STANDARD_CYCLE_DAYS else f", {cycle_length}-day cycle"
    return Dating(edd=edd, method="lmp", reason=f"LMP {lmp}, Naegele +280 d{cycle}", lmp_edd=edd)


def date_by_ultrasound(scan_date: date, scan_ga_days: int) -> Dating:
    """Dating by one ultrasound when there is no LMP to compare it with."""
    edd = ultrasound_edd(scan_date, scan_ga_days)
    return Dating(
        edd=edd,
        method="ultrasound",
        reason=f"ultrasound on {scan_date} at {format_gestational_age(scan_ga_days)}, no LMP",
        ultrasound_edd=edd,
    )


def date_by_lmp_and_ultrasound(
    lmp: date, scan_date: date, scan_ga_days: int, cycle_length: int = STANDARD_CYCLE_DAYS
) -> Dating:
    """ACOG CO 700: keep the LMP date unless the ultrasound differs by more than its band allows.

    The band is chosen by the GA by LMP (cycle-adjusted) on the scan date; a difference exactly
    at the limit keeps the LMP date.
    """
    lmp_dating = date_by_lmp(lmp, cycle_length)
    us_edd = ultrasound_edd(scan_date, scan_ga_days)
    ga_by_lmp = gestational_days(lmp_dating.edd, scan_date)
    band = redating_band(ga_by_lmp)
    difference = scan_ga_days - ga_by_lmp
    redated = abs(difference) > band.limit_days
    verdict = "redated to the ultrasound" if redated else "LMP dating kept"
    comparison = "more than" if redated else "within"
    reason = (
        f"{verdict}: ultrasound differs by {difference:+d} d at"
        f" {format_gestational_age(ga_by_lmp)} by LMP, {comparison} the ACOG CO 700 limit"
        f" of {band.limit_days} d for {band.label}"
    )
    return Dating(
        edd=us_edd if redated else lmp_dating.edd,
        method="ultrasound" if redated else "lmp",
        reason=reason,
        redated=redated,
        lmp_edd=lmp_dating.edd,
        ultrasound_edd=us_edd,
        difference_days=difference,
        band=band,
    )


#: ACOG CO 700: "a pregnancy without an ultrasonographic examination that confirms or revises
#: the EDD before 22 0/7 weeks of gestation should be considered suboptimally dated".
SUBOPTIMAL_FROM_DAYS = 22 * DAYS_PER_WEEK


def suboptimally_dated(dating: Dating, scan_ga_days: int | None) -> bool:
    """Whether this dating rests on a first ultrasound done at or after 22+0 (ACOG CO 700).

    For an LMP with an ultrasound the GA by LMP on the scan day decides (the band's row); for an
    ultrasound alone, the GA it measured. IVF dating (the embryo's age is exact) and a documented
    EDD (a clinician's decision, perhaps on a scan this record lacks) are never flagged, nor is an
    LMP with no scan reported: the HIS may not report every scan, and a flag on every woman
    whose early scan went unreported would be noise (issue 17 item 12).
    """
    if dating.method in ("ivf", "edd"):
        return False
    if dating.band is not None:
        return dating.band.first_day >= SUBOPTIMAL_FROM_DAYS
    if dating.method == "ultrasound" and scan_ga_days is not None:
        return scan_ga_days >= SUBOPTIMAL_FROM_DAYS
    return False


def date_by_ivf(
    transfer_date: date,
    embryo_day: int,
    scan_date: date | None = None,
    scan_ga_days: int | None = None,
) -> Dating:
    """IVF dating from the transfer date and embryo age; the embryo's age is known exactly, so
    an ultrasound never redates it (its difference is still recorded for the record)."""
    edd = ivf_edd(transfer_date, embryo_day)
    reason = f"IVF day-{embryo_day} transfer on {transfer_date}"
    if scan_date is None or scan_ga_days is None:
        return Dating(edd=edd, method="ivf", reason=reason)
    us_edd = ultrasound_edd(scan_date, scan_ga_days)
    redating_band(gestational_days(edd, scan_date))  # only to reject a scan impossible by dates
    difference = (edd - us_edd).days
    return Dating(
        edd=edd,
        method="ivf",
        reason=f"{reason}; never redated (ultrasound differs by {difference:+d} d)",
        ultrasound_edd=us_edd,
        difference_days=difference,
    )


def date_by_documented_edd(edd: date, derived: Dating | None = None) -> Dating:
    """Dating by an EDD already documented (by the HIS or a clinician)."""
    if derived is None:
        return Dating(edd=edd, method="edd", reason=f"documented EDD {edd}")
    gap = (edd - derived.edd).days
    agreement = "agrees with" if gap == 0 else f"kept; {gap:+d} d from"
    return Dating(
        edd=edd,
        method="edd",
        reason=f"documented EDD {edd} {agreement} the {derived.method} dating {derived.edd}",
        derived=derived,
    )


def date_pregnancy(
    *,
    lmp: date | None = None,
    cycle_length: int | None = None,
    scan_date: date | None = None,
    scan_ga_days: int | None = None,
    transfer_date: date | None = None,
    embryo_day: int | None = None,
    edd: date | None = None,
) -> Dating:
    """Date a pregnancy from whatever the record holds, applying one precedence.

    1. A documented ``edd`` wins. ACOG CO 700 asks that the EDD be settled early and changed
       only rarely; the HIS's EDD is that decision, and may already reflect a scan this record
       lacks, so recomputing from the LMP could undo a clinician's redating. The other inputs
       are still validated and their dating is kept in ``derived`` for comparison.
    2. IVF (transfer date and embryo day): never redated by an ultrasound.
    3. LMP with an ultrasound: ACOG CO 700 redating.
    4. Ultrasound alone.
    5. LMP alone.

    Half-given inputs (a scan date without its GA, a transfer without the embryo day, a cycle
    length without an LMP) raise ``incomplete-dating``; nothing at all raises ``no-dating``.
    """
    _require_pair(scan_date, scan_ga_days, say("dating/scan-date"), say("dating/scan-ga"))
    _require_pair(transfer_date, embryo_day, say("dating/transfer-date"), say("dating/embryo-day"))
    if cycle_length is not None and lmp is None:
        raise _dating("incomplete-dating", say("incomplete-dating/cycle"))
    cycle = STANDARD_CYCLE_DAYS if cycle_length is None else cycle_length

    derived: Dating | None = None
    if transfer_date is not None and embryo_day is not None:
        if lmp is not None:
            naegele_edd(lmp, cycle)  # validate even though IVF dating outranks it
        derived = date_by_ivf(transfer_date, embryo_day, scan_date, scan_ga_days)
    elif lmp is not None and scan_date is not None and scan_ga_days is not None:
        derived = date_by_lmp_and_ultrasound(lmp, scan_date, scan_ga_days, cycle)
    elif scan_date is not None and scan_ga_days is not None:
        derived = date_by_ultrasound(scan_date, scan_ga_days)
    elif lmp is not None:
        derived = date_by_lmp(lmp, cycle)

    if edd is not None:
        return date_by_documented_edd(edd, derived)
    if derived is None:
        raise _dating("no-dating", say("no-dating/nothing"))
    return derived


def _require_pair(first: object, second: object, first_name: Text, second_name: Text) -> None:
    """Both or neither: half an ultrasound or half a transfer cannot date anything."""
    if (first is None) != (second is None):
        given, missing = (first_name, second_name) if second is None else (second_name, first_name)
        raise _dating("incomplete-dating", say("incomplete-dating/pair", given=given, missing=missing))


def _dating(code: str, text: Text) -> DatingError:
    return DatingError(english(text), code=code, text=text)
