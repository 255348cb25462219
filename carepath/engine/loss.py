"""Suspected pregnancy loss (issue 16 item 7): the codes that raise ``loss.suspected`` and the
hold it puts on every message to her.

The runtime, not a library rule, turns a loss code into ``loss.suspected``: a diagnosis of
O00-O06 (ectopic and molar pregnancy, other abnormal products of conception, spontaneous,
medical and other abortion), O36.4 (intrauterine death) or Z37.1 (single stillbirth), added
(not a repeat) while her pregnancy has not ended and no loss is suspected already, raises the
internal event ``loss.suspected`` ``{code, source: diagnosis}`` — so the hold cannot depend on
a hospital remembering to write a rule, and a rule ``on: {event: loss.suspected}`` (the
confirm task of the clinical corrections' library) fires for a code and for a posted event
alike. O07 (failed attempted abortion) is not a loss code: it holds nothing, and the doctor's
task it calls for is a library rule (``on: {event: diagnosis.added}`` with
``when: {event: {field: data.code, startswith: O07}}``). O08 (complications after an
abortion) raises nothing either, before or after the pregnancy ended.

``Evaluation.loss`` tells the store (``store/evaluation.py``) and the dry-run what changed:
``HELD`` (a suspicion began: every message to her is held), ``CONFIRMED`` (``loss.confirmed``:
the pregnancy ended, every unsent message is cancelled, the hold ends) or ``LIFTED``
(``loss.rejected``: held messages whose moment has not passed are released, the others are
skipped as ``stale-after-hold``).
"""

from __future__ import annotations

from carepath.engine.facts import Facts, normalised_code

SUSPECTED = "loss.suspected"
CONFIRMED_EVENT = "loss.confirmed"
REJECTED = "loss.rejected"
EVENTS = frozenset({SUSPECTED, CONFIRMED_EVENT, REJECTED})

# Evaluation.loss
HELD = "held"
CONFIRMED = "confirmed"
LIFTED = "lifted"

#: Why a held message whose moment passed during the hold is not sent after a rejection.
STALE_AFTER_HOLD = "stale-after-hold"

#: Code prefixes (normalised, without the dot) that raise ``loss.suspected``.
LOSS_CODE_PREFIXES = ("O00", "O01", "O02", "O03", "O04", "O05", "O06", "O364", "Z371")


def is_loss_code(code: str) -> bool:
    """Whether an ICD-10 code suggests the pregnancy is lost (``o03.9``, ``O36.4``, ``Z37.1``)."""
    return normalised_code(code).replace(".", "").startswith(LOSS_CODE_PREFIXES)


def raises_suspicion(before: Facts, code: str) -> bool:
    """A diagnosis of ``code`` raises ``loss.suspected``: a loss code, her pregnancy not ended,
    no loss suspected already (a second code does not hold her twice)."""
    return is_loss_code(code) and before.status != "ended" and not before.loss_suspected


def transition(before: Facts, after: Facts, event_type: str | None) -> str | None:
    """What one evaluation did to the hold: ``HELD``, ``CONFIRMED``, ``LIFTED`` or None."""
    if event_type == CONFIRMED_EVENT:
        return CONFIRMED
    if after.loss_suspected and not before.loss_suspected:
        return HELD
    if before.loss_suspected and not after.loss_suspected:
        return LIFTED
    return None
