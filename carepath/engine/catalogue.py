"""What a pathway may refer to: tags, labs, content items and forms.

The compiler resolves names against a Catalogue. The built-in one comes from the package
(``pathways/tags.yaml``, ``pathways/labs.yaml``, the content library and the forms); a
hospital's own vocabulary extends it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from carepath.engine.content import load_content_library
from carepath.engine.form_spec import SCORE_ITEM, Form
from carepath.engine.forms import load_forms
from carepath.engine.icd10 import who_catalogue
from carepath.engine.medications import starting_codes

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
PATHWAYS_DIR = PACKAGE_ROOT / "pathways"


@dataclass(frozen=True)
class Lab:
    """One lab or vital sign: a single unit, and the range a real measurement can take."""

    code: str
    zh: str
    en: str
    unit: str
    low: float
    high: float

    def plausible(self, value: float) -> bool:
        return self.low <= value <= self.high


@dataclass(frozen=True)
class FormShape:
    """What the compiler needs of a form: its item ids and which of them are numbers."""

    id: str
    items: Mapping[str, str]  # item id -> "number" | "string" | "date" | "list"
    #: Its review marks it safety advice: a pathway may send it as ``urgent``.
    safety_advice: bool = False

    def item_type(self, item: str) -> str | None:
        return self.items.get(item)


@dataclass(frozen=True)
class Catalogue:
    """Names a pathway may use. ``None`` for content or forms means "not checked"."""

    tags: frozenset[str] = frozenset()
    labs: Mapping[str, Lab] = field(default_factory=lambda: MappingProxyType({}))
    content_keys: frozenset[str] | None = None
    forms: Mapping[str, FormShape] | None = None
    pathway_ids: frozenset[str] = frozenset()
    #: ICD-10 codes a pathway's ``icd10`` prefixes are checked against (a warning, never an error).
    icd10: Mapping[str, object] | None = None
    #: Content items whose review marks them safety advice (``urgent`` is allowed with them).
    safety_content: frozenset[str] = frozenset()
    #: Medication codes: the starting vocabulary (engine/medications.py) in every catalogue.
    medications: frozenset[str] = field(default_factory=starting_codes)

    def with_tags(self, extra: frozenset[str]) -> Catalogue:
        return replace(self, tags=self.tags | extra)

    def with_medications(self, extra: frozenset[str]) -> Catalogue:
        """The hospital's own medication codes over the starting vocabulary."""
        return replace(self, medications=self.medications | extra)


def _read_yaml(path: Path) -> Any:
    # Package data written by us, but still never constructs objects.
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def load_tags(path: Path = PATHWAYS_DIR / "tags.yaml") -> frozenset[str]:
    data = _read_yaml(path) or {}
    return frozenset(str(entry["tag"]) for entry in data.get("tags", []))


def load_labs(path: Path = PATHWAYS_DIR / "labs.yaml") -> Mapping[str, Lab]:
    data = _read_yaml(path) or {}
    labs = {}
    for entry in data.get("labs", []):
        low, high = entry["plausible"]
        labs[entry["code"]] = Lab(
            entry["code"], entry["zh"], entry["en"], entry["unit"], float(low), float(high)
        )
    return MappingProxyType(labs)


def builtin_pathway_ids(directory: Path = PATHWAYS_DIR) -> frozenset[str]:
    """Ids of the built-in library, by file name, so that ``enroll`` can name them."""
    return frozenset(p.stem for p in directory.glob("*.yaml") if p.stem not in ("tags", "labs"))


def form_shapes(forms: Mapping[str, Form]) -> Mapping[str, FormShape]:
    """What the compiler needs of each form; a scored form also answers ``score``."""
    shapes = {}
    for form in forms.values():
        items = dict(form.item_types)
        if form.scoring is not None:
            items[SCORE_ITEM] = "number"
        shapes[form.id] = FormShape(form.id, MappingProxyType(items), form.safety_advice)
    return MappingProxyType(shapes)


@cache
def load_catalogue() -> Catalogue:
    """The built-in catalogue: the package's tags, labs, content items, forms, pathway ids, ICD-10.

    Cached: it reads some hundred files and never changes while a process runs.
    """
    content = load_content_library()
    return Catalogue(
        tags=load_tags(),
        labs=load_labs(),
        content_keys=frozenset(content),
        safety_content=frozenset(key for key, item in content.items() if item.safety_advice),
        forms=form_shapes(load_forms()),
        pathway_ids=builtin_pathway_ids(),
        icd10=who_catalogue(),
    )
