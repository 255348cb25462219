"""Matchers decide which conditions of a pathway hold for a snapshot.

Two implementations of one protocol: ``compiled`` (generated Python, the default) and
``durable`` (durable-rules). ``CAREPATH_MATCHER`` selects one; tests require they agree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from carepath.engine.spec import Pathway


class Matcher(Protocol):
    """The conditions of one compiled pathway, evaluated against a snapshot."""

    pathway: Pathway

    def audience(self, snapshot: Mapping[str, Any]) -> bool:
        """Does she belong to this pathway? (No audience: everyone does.)"""

    def exit(self, snapshot: Mapping[str, Any]) -> bool:
        """Has her enrolment ended? (No exit condition: never by condition.)"""

    def holding(self, snapshot: Mapping[str, Any], rule_ids: Sequence[str]) -> frozenset[str]:
        """Those of ``rule_ids`` whose ``when`` holds (a rule without ``when`` always holds)."""


#: The matcher kinds ``matcher_for`` builds; ``CAREPATH_MATCHER`` takes one of these.
MATCHER_KINDS = ("compiled", "durable")


def matcher_for(pathway: Pathway, kind: str = "compiled") -> Matcher:
    """A matcher of the given kind for ``pathway``."""
    if kind == "compiled":
        return CompiledMatcher(pathway)
    if kind == "durable":
        # Imported here: durable-rules is a C extension that only the durable matcher needs,
        # and it must not load (nor register rulesets) in processes that never ask for it.
        from carepath.engine.matchers.durable import DurableMatcher  # noqa: PLC0415

        return DurableMatcher(pathway)
    raise ValueError(f"unknown matcher {kind!r}; use one of {', '.join(MATCHER_KINDS)}")


from carepath.engine.matchers.compiled import CompiledMatcher  # noqa: E402  (after the protocol it implements)
