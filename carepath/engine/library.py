"""The Library: compiled pathways and their matchers, built once and shared by every evaluation.

Compile once, evaluate many: a published pathway version is compiled once to a spec and a
matcher; ``Loaded`` keeps what ``evaluate()`` looks up for it (its timed rules, the calendar
boundaries of its audience and exit, its rules by trigger), and the Library keeps the versions
pinned enrolments need and the timetables of recent anchors.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from carepath.engine.matchers import MATCHER_KINDS, Matcher, matcher_for
from carepath.engine.spec import At, Compare, Every, OnEnrolled, OnEvent, Pathway, Rule, walk
from carepath.engine.timing import Anchors, SendWindow, Timetable, timetable
from carepath.engine.wakeups import Boundaries, boundaries
from carepath.errors import EvaluationError

#: Timetables kept per Library; enough for every pathway of a few hundred pregnancies.
TIMETABLE_CACHE = 4096


@dataclass(frozen=True)
class Loaded:
    """A compiled pathway version with everything evaluation looks up, found once."""

    pathway: Pathway
    matcher: Matcher
    timed_rules: tuple[Rule, ...]
    audience_bounds: Boundaries
    exit_bounds: Boundaries
    rule_order: Mapping[str, int]
    calendar_exit: bool  # the exit names a fact the calendar moves
    calendar_entry: bool  # the audience or the exit does
    #: The audience or the exit has an ``event`` condition: its answer may differ from one step
    #: of a chain to the next with her facts unchanged, so it is never kept within one evaluation.
    entry_reads_event: bool
    on_enrolled: tuple[Rule, ...]
    on_event: Mapping[str, tuple[Rule, ...]]  # event type -> its rules, in declaration order

    @classmethod
    def build(cls, pathway: Pathway, matcher: Matcher) -> Loaded:
        audience_bounds = boundaries(pathway.audience)
        exit_bounds = boundaries(pathway.exit)
        on_event: dict[str, list[Rule]] = {}
        for rule in pathway.rules:
            if isinstance(rule.trigger, OnEvent):
                on_event.setdefault(rule.trigger.type, []).append(rule)
        return cls(
            pathway=pathway,
            matcher=matcher,
            timed_rules=tuple(r for r in pathway.rules if isinstance(r.trigger, At | Every)),
            audience_bounds=audience_bounds,
            exit_bounds=exit_bounds,
            rule_order=MappingProxyType({rule.id: i for i, rule in enumerate(pathway.rules)}),
            calendar_exit=bool(exit_bounds),
            calendar_entry=bool(audience_bounds) or bool(exit_bounds),
            entry_reads_event=any(
                isinstance(node, Compare) and node.fact == "event"
                for condition in (pathway.audience, pathway.exit)
                for node in walk(condition)
            ),
            on_enrolled=tuple(r for r in pathway.rules if isinstance(r.trigger, OnEnrolled)),
            on_event=MappingProxyType({kind: tuple(rules) for kind, rules in on_event.items()}),
        )


class Library:
    """Compiled pathways and their matchers, built once and shared by every evaluation.

    ``current`` are the versions new enrolments get; older versions stay available for the
    enrolments pinned to them.
    """

    def __init__(self, pathways: Iterable[Pathway], matcher: str = "compiled") -> None:
        """``matcher`` is a kind of ``MATCHER_KINDS``; the engine never reads the environment:
        the CLI passes ``--matcher`` / ``CAREPATH_MATCHER`` (``carepath.cli.matcher_kind``)."""
        if matcher not in MATCHER_KINDS:
            raise ValueError(f"unknown matcher {matcher!r}; use one of {', '.join(MATCHER_KINDS)}")
        self.matcher_kind = matcher
        self.current: dict[str, Pathway] = {}
        self._loaded: dict[tuple[str, str], Loaded] = {}
        self._timetables: OrderedDict[tuple[str, str, Anchors, SendWindow], Timetable] = OrderedDict()
        self._ordered: list[Loaded] | None = None
        for pathway in pathways:
            self.add(pathway)

    def add(self, pathway: Pathway, *, current: bool = True) -> None:
        key = (pathway.id, pathway.version)
        if key not in self._loaded:
            self._loaded[key] = Loaded.build(pathway, matcher_for(pathway, self.matcher_kind))
        if current:
            self.current[pathway.id] = pathway
            self._ordered = None

    def subset(self, pathway_ids: Iterable[str], *, pinned_from: Library | None = None) -> Library:
        """Only these pathways, sharing the compiled matchers (nothing is compiled again).

        ``pinned_from``'s versions of the same pathways stay loaded but not current, for the
        enrolments pinned to them (a published version while a candidate is tried out).
        """
        wanted = frozenset(pathway_ids)
        part = Library((), matcher=self.matcher_kind)
        sources = [self] if pinned_from is None else [pinned_from, self]
        for source in sources:
            for key, loaded in source._loaded.items():
                if key[0] in wanted:
                    part._loaded[key] = loaded
        part.current = {k: v for k, v in self.current.items() if k in wanted}
        return part

    def versions(self) -> list[Pathway]:
        """Every loaded version, current or pinned, by pathway id then version."""
        return [self._loaded[key].pathway for key in sorted(self._loaded)]

    def loaded(self, pathway_id: str, version: str) -> Loaded:
        try:
            return self._loaded[(pathway_id, version)]
        except KeyError:
            raise EvaluationError(
                f"pathway {pathway_id} version {version} is not loaded", code="unknown-version"
            ) from None

    def matcher(self, pathway_id: str, version: str) -> Matcher:
        return self.loaded(pathway_id, version).matcher

    def ordered(self) -> list[Loaded]:
        """The current versions, by pathway id (the evaluation order)."""
        if self._ordered is None:
            self._ordered = [self._loaded[(k, self.current[k].version)] for k in sorted(self.current)]
        return self._ordered

    def timetable(self, loaded: Loaded, anchors: Anchors, window: SendWindow) -> Timetable:
        """The pathway's timed occurrences for these anchors, from a small LRU cache: a
        simulation evaluates one pregnancy many times in a row, production once per wake-up."""
        key = (loaded.pathway.id, loaded.pathway.version, anchors, window)
        found = self._timetables.get(key)
        if found is None:
            found = timetable(loaded.timed_rules, anchors, window)
            self._timetables[key] = found
            if len(self._timetables) > TIMETABLE_CACHE:
                self._timetables.popitem(last=False)
        else:
            self._timetables.move_to_end(key)
        return found
