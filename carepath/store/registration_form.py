"""Her registration form (自动化建档, issue 18 item 4) checked field by field, in Chinese.

The form asks in the order a booking nurse does: name; ID document (GB 11643 for the resident
ID card and the two documents shaped like it, ``engine/identity.py``), from which her birth date
and age come; her mainland mobile number; the pregnancy's dating (LMP, a documented EDD, an
ultrasound with its GA, or an IVF transfer: the engine's clock dates it, ``engine/clock.py``);
height and pre-pregnancy weight; gravida and para; the registration risk screen (whatever items
``forms/registration-risk-screen.yaml`` has today); and her consents: the privacy notice of
:data:`NOTICE_VERSION`, the separate consent to processing her health information (PIPL art.
29), and each channel's. A girl under 14 needs her guardian's consent (PIPL art. 31).

``check_form`` returns the checked form or every problem as ``{field: Chinese message}`` (the
page shows each next to its field). Nothing here touches the database.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

from carepath.engine import identity
from carepath.engine.clock import MAX_GESTATIONAL_DAYS, format_gestational_age
from carepath.engine.forms import Form
from carepath.engine.inputs import dating_of
from carepath.errors import CarepathError, DatingError
from carepath.store import form_answers
from carepath.store.event_input import hospital_today

#: The registration risk screen: rendered and checked from its form file.
SCREEN_FORM = "registration-risk-screen"
#: The privacy notice she reads on the form (``registration/privacy_notice.html``, on her page
#: and at the desk); a new text needs a new version, and a form opened before it changed is
#: refused so she reads the new one.
NOTICE_VERSION = "h5-2026-12-draft"
#: PIPL art. 31: the personal information of a child under 14 needs her guardian's consent.
GUARDIAN_AGE = 14
#: Mainland mobile numbers: 11 digits beginning 13-19 (+86 or 86 before them is dropped).
MAINLAND_MOBILE = re.compile(r"^1[3-9][0-9]{9}$")
#: Beyond 42+6 by her dates she is overdue or misdated: the desk registers her, not the form.
LATEST_GA_DAYS = 42 * 7 + 6
GUARDIAN_RELATIONS = {"father": "父亲", "mother": "母亲", "other": "其他监护人"}
#: The documents of ``engine/identity.py`` by their Chinese names (her form and the desk's).
ID_TYPE_NAMES = {
    "resident": "居民身份证",
    "hk_macau_tw_residence": "港澳台居民居住证",
    "foreign_permanent": "外国人永久居留身份证",
    "passport": "护照",
    "hk_macau_pass": "港澳居民来往内地通行证",
    "tw_pass": "台湾居民来往大陆通行证",
}
#: How she gave her consent when a nurse registers her at the desk (``consents.method``).
CONSENT_METHODS = {"paper": "纸质知情同意书，本人签字", "tablet": "在护士站平板上本人确认"}
DATING_METHODS = ("lmp", "edd", "ultrasound", "ivf")
#: What each number's field says when it is out of its range (or not a number).
RANGES = {
    "height_cm": "身高应在100至220厘米之间",
    "weight_kg": "孕前体重应在25至250公斤之间",
    "gravida": "孕次应为1至30（包括这一次怀孕）",
    "para": "产次应为0至29",
    "scan_ga": "B超孕周应为0至44周",
    "scan_ga_days": "B超孕周的天数应为0至6天",
    "cycle_length": "月经周期应为20至45天",
}


class RegistrationInvalidError(CarepathError):
    """The form has problems; ``errors`` maps each field to its Chinese message."""

    code = "registration-invalid"

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(f"{k}: {v}" for k, v in self.errors.items()))


@dataclass(frozen=True)
class CheckedForm:
    """A checked registration; JSON-able (``as_json``/``from_json``) to wait sealed while pending."""

    name: str
    id_type: str
    id_number: str
    birth_date: str
    age: int
    phone: str
    dating: dict[str, Any]
    gestational_age: str
    height_cm: float
    weight_kg: float
    gravida: int
    para: int
    screen: dict[str, Any]
    notice_version: str
    consent_wechat: bool
    consent_sms: bool
    guardian: dict[str, str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: At the desk: how she gave her consents (``CONSENT_METHODS``); None on her own pages.
    consent_method: str | None = None

    @property
    def under_guardian_age(self) -> bool:
        return self.age < GUARDIAN_AGE

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> CheckedForm:
        return cls(**value)

    def event_data(self, enrolled_at: datetime) -> dict[str, Any]:
        """The ``patient.registered`` data this form says (the HIS event's shape)."""
        return {
            **self.dating,
            "birth_date": self.birth_date,
            "pre_pregnancy": {"height_cm": self.height_cm, "weight_kg": self.weight_kg},
            "gravida": self.gravida,
            "para": self.para,
            "enrolled_at": enrolled_at.isoformat(),
        }


def screen_form() -> Form:
    return form_answers.forms()[SCREEN_FORM]


Getter = Callable[[str], str]
ListGetter = Callable[[str], list[str]]


def check_form(get: Getter, get_list: ListGetter, now: datetime, *, at_desk: bool = False) -> CheckedForm:
    """The checked form from a request's fields (``get`` one value, ``get_list`` a multiple
    choice's), or RegistrationInvalidError with every problem found. ``at_desk``: a nurse fills
    it for her (``staff/desk.py``): the same fields and checks, but the consents are hers as the
    nurse records them — how she gave them (``consent_method``), the notice version she saw."""
    errors: dict[str, str] = {}
    today = hospital_today(now)
    name = " ".join(get("name").split())
    if not name:
        errors["name"] = "请填写姓名"
    elif len(name) > 40:
        errors["name"] = "姓名最多40个字"
    id_type, id_number, born = _document(get, today, errors)
    age = _age(born, today) if born else 0
    phone = normalise_phone(get("phone"))
    if not MAINLAND_MOBILE.match(phone):
        errors["phone"] = "请填写11位中国大陆手机号码（1开头）"
    dating, ga = _dating(get, today, errors)
    height = _number(get("height_cm"), 100, 220, "height_cm", errors)
    weight = _number(get("weight_kg"), 25, 250, "weight_kg", errors)
    gravida = _integer(get("gravida"), 1, 30, "gravida", errors)
    para = _integer(get("para"), 0, 29, "para", errors)
    if gravida is not None and para is not None and para > gravida - 1:
        errors["para"] = f"产次不能多于这次以前的怀孕次数（{gravida - 1}次）"
    screen = _screen(get, get_list, errors)
    _consents(get, errors, at_desk=at_desk)
    guardian = None
    if born and age < GUARDIAN_AGE:
        guardian = _guardian(get, errors)
    if errors:
        raise RegistrationInvalidError(errors)
    assert born and dating is not None and ga is not None
    assert height is not None and weight is not None and gravida is not None and para is not None
    return CheckedForm(
        name=name,
        id_type=id_type,
        id_number=id_number,
        birth_date=born.isoformat(),
        age=age,
        phone=phone,
        dating=dating,
        gestational_age=format_gestational_age(ga),
        height_cm=height,
        weight_kg=weight,
        gravida=gravida,
        para=para,
        screen=screen,
        notice_version=NOTICE_VERSION,
        consent_wechat=get("consent_wechat") == "yes",
        consent_sms=get("consent_sms") == "yes",
        guardian=guardian,
        consent_method=get("consent_method") if at_desk else None,
    )


def _consents(get: Getter, errors: dict[str, str], *, at_desk: bool) -> None:
    """The privacy notice of the current version and the separate health-information consent:
    ticked by her on her pages; recorded by the nurse at the desk with how she gave them (no
    consent recorded, no registration)."""
    if at_desk:
        if get("consent_method") not in CONSENT_METHODS:
            errors["consent_method"] = (
                "请记录她是怎样表示同意的：纸质签字，或在平板上本人确认；没有她本人的同意不能建档"
            )
        if get("notice") != NOTICE_VERSION:
            errors["notice"] = (
                "隐私政策已更新，请让她阅读新版本后再确认"
                if get("notice")
                else "请确认她已阅读当前版本的《隐私政策》；未阅读不能建档"
            )
        if get("consent_health") != "yes":
            errors["consent_health"] = "没有她本人对处理健康信息的单独同意，不能建档"
        return
    if get("notice") != NOTICE_VERSION:
        errors["notice"] = (
            "隐私政策已更新，请重新阅读后勾选" if get("notice") else "请阅读并勾选同意《隐私政策》"
        )
    if get("consent_health") != "yes":
        errors["consent_health"] = "线上建档需要您单独同意处理健康信息；如不同意，请到护士站办理建档"


def normalise_phone(text: str) -> str:
    digits = re.sub(r"[\s-]", "", text or "")
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    return digits


def _document(get: Getter, today: date, errors: dict[str, str]) -> tuple[str, str, date | None]:
    id_type = get("id_type") or identity.DEFAULT_ID_TYPE
    if not get("id_number").strip():
        errors["id_number"] = "请填写证件号码"
        return id_type, "", None
    try:
        document = identity.check_id_number(get("id_number"), id_type, today)
    except identity.InvalidIdNumberError as error:
        errors["id_type" if error.reason == "unknown-type" else "id_number"] = error.message_zh
        return id_type, "", None
    if document.sex == "male":
        errors["id_number"] = "证件号码显示为男性，请填写孕妇本人的证件号码"
        return id_type, document.number, None
    born = document.birth_date
    if born is None:  # a passport or a travel permit carries no birth date: she gives it
        born = _date(get("birth_date"))
        if born is None or born < identity.EARLIEST_BIRTH:
            errors["birth_date"] = "请填写出生日期"
            return id_type, document.number, None
        if born > today:
            errors["birth_date"] = "出生日期不能晚于今天"
            return id_type, document.number, None
    return id_type, document.number, born


def _age(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def _date(text: str) -> date | None:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        return None


def _dating(get: Getter, today: date, errors: dict[str, str]) -> tuple[dict[str, Any] | None, int | None]:
    """The dating inputs as the HIS event gives them, and her GA today by the engine's clock."""
    method = get("dating_method")
    if method not in DATING_METHODS:
        errors["dating_method"] = "请选择推算孕周的方式"
        return None, None
    dating: dict[str, Any] = {}
    first_field = {"lmp": "lmp", "edd": "edd", "ultrasound": "scan_date", "ivf": "transfer_date"}[method]

    def past_date(name: str, label: str) -> date | None:
        value = _date(get(name))
        if value is None:
            errors[name] = f"请填写{label}"
        elif value > today:
            errors[name] = f"{label}不能晚于今天"
        else:
            return value
        return None

    if method == "lmp":
        lmp = past_date("lmp", "末次月经第一天")
        if lmp is not None:
            dating["lmp"] = lmp.isoformat()
        if get("cycle_length").strip():
            cycle = _integer(get("cycle_length"), 20, 45, "cycle_length", errors)
            if cycle is not None:
                dating["cycle_length"] = cycle
    elif method == "edd":
        edd = _date(get("edd"))
        if edd is None:
            errors["edd"] = "请填写预产期"
        else:
            dating["edd"] = edd.isoformat()
    elif method == "ultrasound":
        scan = past_date("scan_date", "B超检查日期")
        weeks = _integer(get("scan_ga_weeks"), 0, 44, "scan_ga", errors)
        days = _integer(get("scan_ga_days") or "0", 0, 6, "scan_ga_days", errors)
        if scan is not None and weeks is not None and days is not None:
            dating["ultrasound"] = {"scan_date": scan.isoformat(), "ga": f"{weeks}+{days}"}
    else:
        transfer = past_date("transfer_date", "胚胎移植日期")
        embryo = get("embryo_day")
        if embryo not in ("3", "5"):
            errors["embryo_day"] = "请选择移植的是第3天还是第5天的胚胎"
        elif transfer is not None:
            dating["ivf"] = {"transfer_date": transfer.isoformat(), "embryo_day": int(embryo)}
    if (
        first_field in errors
        or not dating
        or any(k in errors for k in ("scan_ga", "embryo_day", "cycle_length"))
    ):
        return None, None
    try:
        ga = dating_of(dating).gestational_days(today)
    except DatingError:
        errors[first_field] = "这些日期推算不出孕周，请核对"
        return None, None
    if ga < 0:
        errors[first_field] = (
            "预产期距今超过40周，请核对预产期"
            if method == "edd"
            else "按这个日期，今天还未到孕周起点，请核对"
        )
        return None, None
    if ga > min(LATEST_GA_DAYS, MAX_GESTATIONAL_DAYS):
        errors[first_field] = "按这个日期已超过42周，请核对日期，或到护士站建档"
        return None, None
    return dating, ga


def _number(text: str, low: float, high: float, name: str, errors: dict[str, str]) -> float | None:
    try:
        value = float(text)
    except ValueError:
        errors[name.removesuffix("_days")] = RANGES[name]
        return None
    if not low <= value <= high:
        errors[name.removesuffix("_days")] = RANGES[name]
        return None
    return round(value, 1)


def _integer(text: str, low: int, high: int, name: str, errors: dict[str, str]) -> int | None:
    try:
        value = int(text.strip())
    except ValueError:
        errors[name.removesuffix("_days")] = RANGES[name]
        return None
    if not low <= value <= high:
        errors[name.removesuffix("_days")] = RANGES[name]
        return None
    return value


def _screen(get: Getter, get_list: ListGetter, errors: dict[str, str]) -> dict[str, Any]:
    """The risk screen's answers, item by item as its form file defines them."""
    form = screen_form()
    answers: dict[str, Any] = {}
    for item in form.items:
        key = f"screen.{item.id}"
        if item.type == "multiple":
            chosen = [v for v in get_list(key) if v]
            if chosen:
                answers[item.id] = chosen
        elif item.type == "number":
            text = get(key).strip()
            if text:
                try:
                    answers[item.id] = float(text)
                except ValueError:
                    answers[item.id] = text  # the form's check refuses it below
        else:
            text = get(key).strip()
            if text:
                answers[item.id] = text
    for problem in form_answers.answer_problems(SCREEN_FORM, answers):
        item_id = problem["path"].removeprefix("answers.")
        asked = form.item(item_id)
        if problem["code"] == "required":
            word = (
                "请回答这一项" if asked is None or asked.type in ("text", "number", "date") else "请选择一项"
            )
        elif asked is not None and asked.type == "multiple":
            word = (
                "请重新选择：“都没有”不能与其他选项同时选"
                if "cannot be chosen" in problem["message"]
                else "请重新选择"
            )
        else:
            word = "请核对这一项的填写"
        errors[f"screen.{item_id}"] = word
    return answers


def _guardian(get: Getter, errors: dict[str, str]) -> dict[str, str] | None:
    name = " ".join(get("guardian_name").split())
    relation = get("guardian_relation")
    if not name or len(name) > 40:
        errors["guardian_name"] = "未满14周岁，请填写监护人姓名"
    if relation not in GUARDIAN_RELATIONS:
        errors["guardian_relation"] = "请选择监护人与您的关系"
    if get("guardian_consent") != "yes":
        errors["guardian_consent"] = "未满14周岁，需要监护人阅读《隐私政策》并同意"
    if name and relation in GUARDIAN_RELATIONS and get("guardian_consent") == "yes":
        return {"name": name, "relation": relation}
    return None
