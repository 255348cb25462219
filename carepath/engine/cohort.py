"""Cohorts for simulation: a hospital's CSV export, or synthetic pregnancies from a seed.

The CSV has one row per patient with the patient-file fields flattened (docs/language.md,
"Cohort files"):
``pre_pregnancy.height_cm``, ``tags`` separated by ``|``, ``diagnoses`` as
``code@date|code@date``. Each row is checked against the patient schema like a patient file,
so a bad row is reported with its line and never half-used.

The synthetic mix follows issue 6: 5% GDM, 3% hypertensive, 2% previa, 15% scarred uterus,
2% twins, 20% aged 35 or more, 10% anaemia, 1% ICP; ages 18-45; registration at 6-30 weeks.
Diagnoses that are made later in pregnancy (GDM at the 24-28 week OGTT, previa after 28
weeks) arrive as events then; everyone delivers a live baby at 37-41 weeks.
"""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from carepath.engine import messages
from carepath.engine.facts import Event, Facts, facts_from_patient
from carepath.engine.inputs import check_patient
from carepath.engine.messages import say
from carepath.errors import Problem

ZONE = ZoneInfo("Asia/Shanghai")
INTEGER_FIELDS = {"cycle_length", "gravida", "para", "plurality", "ivf.embryo_day"}
NUMBER_FIELDS = {"pre_pregnancy.height_cm", "pre_pregnancy.weight_kg"}


@dataclass(frozen=True)
class Member:
    """One pregnancy of a cohort: her facts at registration and the events that follow."""

    facts: Facts
    events: tuple[Event, ...] = ()


def _unflatten(row: dict[str, str]) -> dict[str, Any]:
    patient: dict[str, Any] = {}
    for key, raw in row.items():
        value = (raw or "").strip()
        if not value or key is None:
            continue
        parsed: Any = value
        if key in INTEGER_FIELDS and value.lstrip("-").isdigit():
            parsed = int(value)
        elif key in NUMBER_FIELDS:
            try:
                parsed = float(value)
            except ValueError:
                parsed = value
        elif key == "tags":
            parsed = [t for t in value.split("|") if t]
        elif key == "diagnoses":
            parsed = []
            for entry in value.split("|"):
                code, _, when = entry.partition("@")
                parsed.append({"code": code, **({"date": when} if when else {})})
        elif key == "purple":
            parsed = value.lower() in ("1", "true", "yes")
        target = patient
        parts = key.split(".")
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = parsed
    return patient


def read_cohort_csv(text: str, path: str) -> tuple[list[Member], list[Problem]]:
    """Members of a cohort CSV, or the located problems of its bad rows."""
    members: list[Member] = []
    problems: list[Problem] = []
    reader = csv.DictReader(io.StringIO(text))
    for line, row in enumerate(reader, start=2):
        patient = _unflatten(row)
        checked = check_patient(f"{path}:row{line}", yaml.safe_dump(patient, allow_unicode=True).encode())
        if not checked.ok:
            for problem in checked.problems:
                where = problem.location
                said = say("row/problem", line=line, problem=problem.text or problem.message)
                problems.append(messages.problem(type(where)(path, line, 1), problem.code, said))
            continue
        members.append(Member(facts_from_patient(checked.value)))
    return members, problems


def synthetic_cohort(
    size: int, seed: int = 0, start: date = date(2026, 1, 1), first: int = 0
) -> Iterator[Member]:
    """Synthetic pregnancies ``first`` to ``size - 1``: member n is the same for the same seed
    however the cohort is split between worker processes."""
    for n in range(first, size):
        yield _synthetic_member(random.Random(f"{seed}:{n}"), n, start)


def _synthetic_member(rng: random.Random, n: int, start: date) -> Member:
    lmp = start + timedelta(days=rng.randrange(0, 365))
    age = 35 + rng.randrange(0, 11) if rng.random() < 0.20 else rng.randrange(18, 35)
    edd = lmp + timedelta(days=280)
    born = date(edd.year - age, rng.randrange(1, 13), rng.randrange(1, 29))
    if edd < date(born.year + age, born.month, born.day):
        born = date(born.year - 1, born.month, born.day)
    registered_ga = rng.randrange(6 * 7, 30 * 7 + 1)
    enrolled_at = _at(lmp + timedelta(days=registered_ga), rng)
    tags: set[str] = set()
    diagnoses: set[str] = set()
    events: list[Event] = []

    def later(ga_low: int, ga_high: int, kind: str, data: dict[str, Any]) -> None:
        ga = max(rng.randrange(ga_low, ga_high + 1), registered_ga + 1)
        events.append(Event(f"syn{n}-{len(events)}", kind, _at(lmp + timedelta(days=ga), rng), data))

    if rng.random() < 0.15:
        diagnoses.add("O34.201")
        tags.add("瘢痕子宫")
    if rng.random() < 0.03:
        diagnoses.add(rng.choice(["O13.000", "O14.900", "O10.001", "O11.000"]))
    plurality = 2 if rng.random() < 0.02 else 1
    if plurality == 2:
        diagnoses.add("O30.000")
    if rng.random() < 0.10:
        diagnoses.add("O99.001")
        later(registered_ga, registered_ga + 7, "lab.result", {"code": "hb", "value": rng.randrange(85, 110)})
    if rng.random() < 0.05:
        later(24 * 7, 28 * 7 + 6, "diagnosis.added", {"code": "O24.401"})
    if rng.random() < 0.02:
        later(28 * 7, 32 * 7, "diagnosis.added", {"code": "O44.101"})
    if rng.random() < 0.01:
        later(28 * 7, 34 * 7, "diagnosis.added", {"code": "O26.601"})
    # Bell-shaped height and pre-pregnancy BMI: synthetic assumptions that keep the BMI classes
    # plausible (a uniform weight put a third of the cohort at BMI 28 or more), not population data.
    height = float(min(max(round(rng.gauss(160, 5.5)), 145), 182))
    bmi = min(max(rng.gauss(21.5, 3.0), 16.0), 40.0)
    delivery_ga = rng.randrange(37 * 7, 41 * 7 + 1)
    later(
        delivery_ga,
        delivery_ga,
        "delivery",
        {"mode": rng.choice(["vaginal", "caesarean"]), "newborns": [{"outcome": "live"}] * plurality},
    )
    facts = Facts(
        pregnancy_id=f"syn-{n:06d}",
        enrolled_at=enrolled_at,
        lmp=lmp,
        birth_date=born,
        height_cm=height,
        weight_kg=round(bmi * (height / 100) ** 2 * 2) / 2,
        gravida=(gravida := rng.randrange(1, 5)),
        para=rng.randrange(0, gravida),
        plurality=plurality,
        tags=frozenset(tags),
        icd10=frozenset(diagnoses),
    )
    return Member(facts, tuple(sorted(events, key=lambda e: e.occurred_at)))


def _at(day: date, rng: random.Random) -> datetime:
    """A working-hours moment on ``day``, when HIS events and registrations happen."""
    return datetime.combine(day, time(8 + rng.randrange(0, 10), rng.randrange(0, 60)), ZONE)
