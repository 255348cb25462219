"""查找孕妇 on 患者 (``/staff/patients``, issue 21 item 2): the search form's fields read, checked
and said in Chinese; the search itself is ``store/search.py``.

The form is POSTed (with its CSRF token): a name or an ID number never goes into a URL, where
proxies and access logs would keep it (the API's search is a POST for the same reason). A bad
field answers the form again with its message beside it (422), never a 500.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from carepath.engine.identity import InvalidIdNumberError, check_id_number, normalise
from carepath.store.roles import label
from carepath.store.search import PregnancyQuery

#: The fields of the form, in the order the page shows them.
FIELDS = (
    "name", "phone_last4", "id_number", "his_id", "source", "week_from", "week_to",
    "diagnosis", "tag", "pathway", "risk_colour", "status",
)  # fmt: skip
#: Results on one page of the search.
PAGE = 50
COLOURS = ("green", "yellow", "orange", "red")
STATUSES = ("pregnant", "delivered", "ended")
#: A woman of the GB 11643 shape (17 digits and a check character) is checked as such; other
#: documents (passports, permits) are matched as typed.
RESIDENT_SHAPE = re.compile(r"^[0-9]{17}[0-9X]$")
#: What each refusal says (English msgids; Chinese in the .po), by the store's code or the field's.
MESSAGES = {
    "name-too-long": label("A name is at most 40 characters."),
    "phone-last4": label("Type the last four digits of her phone."),
    "phone-needs-name": label(
        "The last four digits of her phone find her only with her name: type her name too."
    ),
    "id-number-shape": label("An ID number is 5 to 20 letters or digits."),
    "id-number-check-digit": label("This ID number fails its check digit: compare it with her ID card."),
    "id-number-invalid": label("This is not a valid resident ID number: compare it with her ID card."),
    "his-id-too-long": label("A HIS id is at most 64 characters."),
    "week": label("A week is a whole number from 0 to 45."),
    "week-range-upside-down": label("The week range starts after it ends: swap the two weeks."),
    "bad-diagnosis": label("Type an ICD-10 code or its beginning, such as O24 or O24.4."),
    "tag-too-long": label("A tag is at most 40 characters."),
    "unknown-source": label("No such source in your hospital."),
    "unknown-pathway": label("No such plan in your hospital's library."),
    "bad-choice": label("Choose one of the list."),
    "name-search-too-broad": label(
        "Too many women match this name to search it this way: add the last four digits of her "
        "phone, her week or another filter."
    ),
}


@dataclass
class SearchForm:
    """What was typed (``values``, shown again), the query it makes, and each field's error."""

    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)  # field -> msgid
    query: PregnancyQuery | None = None

    @property
    def empty(self) -> bool:
        return self.query is None or self.query.is_empty()


def _week(form: SearchForm, name: str) -> int | None:
    given = form.values.get(name, "")
    if not given:
        return None
    if not given.isdigit() or not 0 <= int(given) <= 45:
        form.errors[name] = MESSAGES["week"]
        return None
    return int(given)


def _id_number(form: SearchForm, today: date) -> str | None:
    given = normalise(form.values.get("id_number", ""))
    if not given:
        return None
    if not re.fullmatch(r"[0-9A-Z]{5,20}", given):
        form.errors["id_number"] = MESSAGES["id-number-shape"]
        return None
    if RESIDENT_SHAPE.match(given):
        try:
            check_id_number(given, "resident", today)
        except InvalidIdNumberError as error:
            key = "id-number-check-digit" if error.reason == "check-digit" else "id-number-invalid"
            form.errors["id_number"] = MESSAGES[key]
            return None
    return given


def read(given: Any, today: date, pathways: set[str], after: str | None = None) -> SearchForm:
    """The form as typed (``given``: the request's form), checked field by field."""
    form = SearchForm(values={name: " ".join(str(given.get(name, "")).split())[:80] for name in FIELDS})
    values = form.values
    name = values["name"] or None
    if name is not None and len(name) > 40:
        form.errors["name"] = MESSAGES["name-too-long"]
    phone = values["phone_last4"] or None
    if phone is not None and not re.fullmatch(r"[0-9]{4}", phone):
        form.errors["phone_last4"] = MESSAGES["phone-last4"]
    elif phone is not None and name is None:
        form.errors["phone_last4"] = MESSAGES["phone-needs-name"]
    id_number = _id_number(form, today)
    his_id = values["his_id"] or None
    if his_id is not None and len(his_id) > 64:
        form.errors["his_id"] = MESSAGES["his-id-too-long"]
    week_from, week_to = _week(form, "week_from"), _week(form, "week_to")
    if week_from is not None and week_to is not None and week_from > week_to:
        form.errors["week_to"] = MESSAGES["week-range-upside-down"]
    diagnosis = values["diagnosis"].upper() or None
    if diagnosis is not None and not re.fullmatch(r"[A-Z]([0-9]{1,2}(\.[0-9A-Z]{0,8})?)?", diagnosis):
        form.errors["diagnosis"] = MESSAGES["bad-diagnosis"]
    tag = values["tag"] or None
    if tag is not None and len(tag) > 40:
        form.errors["tag"] = MESSAGES["tag-too-long"]
    pathway = values["pathway"] or None
    if pathway is not None and pathway not in pathways:
        form.errors["pathway"] = MESSAGES["unknown-pathway"]
    colour = values["risk_colour"] or None
    if colour is not None and colour not in COLOURS:
        form.errors["risk_colour"] = MESSAGES["bad-choice"]
    status = values["status"] or None
    if status is not None and status not in STATUSES:
        form.errors["status"] = MESSAGES["bad-choice"]
    source = values["source"] or None
    if source is not None and not re.fullmatch(r"[0-9A-Za-z_-]{1,16}", source):
        form.errors["source"] = MESSAGES["unknown-source"]
    if not form.errors:
        form.query = PregnancyQuery(
            name=name, phone_last4=phone, his_id=his_id, id_number=id_number, source=source,
            tag=tag, diagnosis=diagnosis, risk_colour=colour, week_from=week_from, week_to=week_to,
            pathway=pathway, status=status, limit=PAGE, after=after,
        )  # fmt: skip
    return form


def refused(form: SearchForm, code: str) -> None:
    """The store refused the query (``SearchInputError`` / ``SearchTooBroadError``): said on the
    field it concerns."""
    where = {
        "unknown-source": "source",
        "bad-diagnosis": "diagnosis",
        "week-range-upside-down": "week_to",
        "phone-needs-name": "phone_last4",
        "name-search-too-broad": "name",
    }.get(code, "name")
    form.errors[where] = MESSAGES.get(code, MESSAGES["name-search-too-broad"])
