"""Cohort simulation and cohort impact across processes: evaluation is pure and CPU-bound,
and CPython runs one thread at a time, so more cores means more processes (each compiles the
library once, or inherits the compiled one by fork).
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache

from carepath.engine.cohort import Member, synthetic_cohort
from carepath.engine.compiler import compile_paths
from carepath.engine.forms import make_scorer, make_tagger
from carepath.engine.impact import CohortImpact, Enrolled, Plan
from carepath.engine.library import Library
from carepath.engine.runtime import Settings
from carepath.engine.summary import CohortSummary, simulate_member

CHUNK = 250


@dataclass(frozen=True)
class Job:
    """What one worker needs: the pathway files (compiled in the worker) and its members."""

    pathway_files: tuple[str, ...]
    matcher: str
    until_ga_days: int | None
    seed: int = 0
    first: int = 0
    last: int = 0  # synthetic members [first, last)
    members: tuple[Member, ...] = ()  # or these, from a cohort file


_LIBRARIES: dict[tuple[tuple[str, ...], str], Library] = {}


def _library(files: tuple[str, ...], matcher: str) -> Library:
    key = (files, matcher)
    if key not in _LIBRARIES:
        _LIBRARIES[key] = Library(compile_paths(list(files)).pathways, matcher=matcher)
    return _LIBRARIES[key]


@cache
def _settings() -> Settings:
    """One per process: building the scorer reads every form."""
    return Settings(scorer=make_scorer(), tagger=make_tagger())


def run_job(job: Job) -> CohortSummary:
    library = _library(job.pathway_files, job.matcher)
    settings = _settings()
    members = job.members or tuple(synthetic_cohort(job.last, job.seed, first=job.first))
    summary = CohortSummary()
    for member in members:
        summary.add(simulate_member(library, member, job.until_ga_days, settings))
    return summary


def simulate_cohort(
    jobs: Sequence[Job], processes: int, progress: Callable[[int], None] = lambda n: None
) -> CohortSummary:
    """Run the jobs on ``processes`` workers (1: in this process) and add up their summaries."""
    total = CohortSummary()
    if processes <= 1:
        for job in jobs:
            part = run_job(job)
            total.add(part)
            progress(part.patients)
        return total
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        for part in pool.imap_unordered(run_job, jobs):
            total.add(part)
            progress(part.patients)
    return total


def split(size: int, base: Job) -> list[Job]:
    """Synthetic members in chunks, so progress moves and workers stay busy."""
    return [
        Job(base.pathway_files, base.matcher, base.until_ga_days, base.seed, first, min(first + CHUNK, size))
        for first in range(0, size, CHUNK)
    ]


# --- the cohort impact ------------------------------------------------------------------------

#: What forked workers inherit: the plan and the cohort (nothing of it is pickled).
_SHARED: tuple[Plan, Sequence[Member | Enrolled]] | None = None


def _run_slice(bounds: tuple[int, int]) -> CohortImpact:
    assert _SHARED is not None
    plan, cohort = _SHARED
    return plan.run(cohort[bounds[0] : bounds[1]])


def parallel_impact(
    plan: Plan, cohort: Sequence[Member | Enrolled], processes: int, chunk: int = CHUNK
) -> CohortImpact:
    """``plan.run`` over ``processes`` forked workers (1: in this process). Evaluation is pure
    and CPU-bound; the workers inherit the compiled libraries and the cohort by fork."""
    if processes <= 1 or len(cohort) <= chunk:
        return plan.run(cohort)
    global _SHARED  # noqa: PLW0603 - handed to the forked workers, reset after
    _SHARED = (plan, cohort)
    total = CohortImpact()
    try:
        with multiprocessing.get_context("fork").Pool(processes) as pool:
            slices = [(first, min(first + chunk, len(cohort))) for first in range(0, len(cohort), chunk)]
            for part in pool.imap_unordered(_run_slice, slices):
                total.add(part)
    finally:
        _SHARED = None
    return total
