"""Cohort simulation: whole pregnancies on the virtual clock, for a synthetic cohort.

Targets (issues 4 and 6, measured, not asserted): 10k patients to 42+0 over the examples in
<= 10 s, over the built-in library in <= 20 s, each in <= 300 MB.

    python bench/simulate.py [--patients 10000] [--jobs 1,2] [--seed 0]

Prints wall and CPU seconds (the machine may be shared: CPU seconds are the steadier figure),
evaluations, microseconds of CPU per evaluation, and the peak RSS of the largest process.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

from carepath.engine.clock import parse_gestational_age
from carepath.engine.parallel import Job, simulate_cohort, split

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE_FILES = {"tags.yaml", "labs.yaml"}


def pathway_files(directory: Path) -> tuple[str, ...]:
    return tuple(sorted(str(p) for p in directory.glob("*.yaml") if p.name not in CATALOGUE_FILES))


def cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def peak_rss_mib() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--jobs", default="1,2")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--until-ga", default="42+0")
    parser.add_argument("--pathways", choices=("examples", "library", "both"), default="both")
    args = parser.parse_args()
    until = parse_gestational_age(args.until_ga)
    print(f"Python {sys.version.split()[0]}; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    columns = ("pathways", "jobs", "patients", "evaluations", "wall s", "CPU s", "µs/eval", "peak RSS")
    widths = (10, 4, 8, 11, 7, 7, 8, 9)
    print(" ".join(f"{c:>{w}}" for c, w in zip(columns, widths, strict=True)))
    for label, directory in (
        ("examples", ROOT / "examples" / "pathways"),
        ("library", ROOT / "carepath" / "pathways"),
    ):
        if args.pathways not in (label, "both"):
            continue
        for jobs in (int(j) for j in args.jobs.split(",")):
            base = Job(pathway_files(directory), "compiled", until, args.seed)
            started, cpu_before = time.perf_counter(), cpu_seconds()
            summary = simulate_cohort(split(args.patients, base), jobs)
            wall, cpu = time.perf_counter() - started, cpu_seconds() - cpu_before
            print(
                f"{label:>10} {jobs:>4} {summary.patients:>8} {summary.evaluations:>11,} {wall:>7.1f} "
                f"{cpu:>7.1f} {cpu / summary.evaluations * 1e6:>8.0f} {peak_rss_mib():>6.0f} MB "
                f"(load average {os.getloadavg()[0]:.2f})"
            )


if __name__ == "__main__":
    main()
