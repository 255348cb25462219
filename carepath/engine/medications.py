"""The medication vocabulary: the codes ``medication.prescribed`` and ``medication.stopped``
carry and a ``medication`` condition names (issue 16 items 4 and 9).

A starting vocabulary, as ``pathways/tags.yaml`` is for tags: the medicines the shipped
pathways and the hospital's requirements (用药提醒) talk about, by a plain code rather than a
brand or a dose. A hospital extends it (``Catalogue.with_medications``); the compiler refuses a
code outside it (``unknown-medication``, with "did you mean"), and so does the HIS API, so a
pathway and the feed never disagree on a name. Codes are lower-case words joined by hyphens,
the pattern the schemas check (``CODE_PATTERN``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Medication:
    code: str
    zh: str
    en: str


#: The schemas' pattern for a medication code (his-event, events and pathway schemas).
CODE_PATTERN = "^[a-z0-9]+(-[a-z0-9]+)*$"

STARTING_VOCABULARY: tuple[Medication, ...] = (
    Medication("insulin", "胰岛素", "insulin"),
    Medication("metformin", "二甲双胍", "metformin"),
    Medication("aspirin-low-dose", "小剂量阿司匹林", "low-dose aspirin"),
    Medication("iron", "铁剂", "iron supplement"),
    Medication("folic-acid", "叶酸", "folic acid"),
    Medication("calcium", "钙剂", "calcium supplement"),
    Medication("labetalol", "拉贝洛尔", "labetalol"),
    Medication("nifedipine", "硝苯地平", "nifedipine"),
    Medication("methyldopa", "甲基多巴", "methyldopa"),
    Medication("levothyroxine", "左甲状腺素", "levothyroxine"),
    Medication("ursodeoxycholic-acid", "熊去氧胆酸", "ursodeoxycholic acid"),
    Medication("low-molecular-weight-heparin", "低分子肝素", "low-molecular-weight heparin"),
)

#: Code -> the medication, for the preview's words (正在使用胰岛素).
BY_CODE: dict[str, Medication] = {m.code: m for m in STARTING_VOCABULARY}


def starting_codes() -> frozenset[str]:
    return frozenset(BY_CODE)
