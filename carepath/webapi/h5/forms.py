"""Her forms (问卷, issue 19 item 3): ``/h5/forms`` (the forms due and done) and
``/h5/forms/<id>`` (one form sent to her: filled in, or her answer once given).

The form is drawn from its YAML (``carepath/forms``): every item kind of the form schema
(``single``, ``multiple``, ``number`` with its range and unit, ``text``, ``date``), required items
and ranges as HTML attributes, so the page checks them before it posts; ``forms.js`` only adds
what HTML cannot say (a 都没有 choice clears the others, at least one box of a required group,
one submit). With the script failing the form still posts, and the server checks everything
again through the questionnaire responses service (``store/her_forms.py`` → ``responses.py``):
its problem codes become a Chinese sentence next to the field, and nothing is saved.

A good answer redirects to the same address (so a reload never posts twice), which shows her
answer: an exam's score with the right answers; the urgent advice her answer produced, at once
(the copy filed in her inbox in the submit's transaction: ``delivery/her_answers.py``); and the
hospital's emergency number (``emergency_phone``). Which answer is urgent is decided by the
pathways her answer was evaluated against, never by this page.
"""

from __future__ import annotations

import math
import secrets
import unicodedata
from collections.abc import Mapping
from typing import Any

from flask import abort, current_app, redirect, render_template, request, url_for
from markupsafe import Markup
from werkzeug.datastructures import MultiDict

from carepath.delivery import her_answers, her_item
from carepath.engine.form_scoring import MAX_TEXT
from carepath.engine.forms import Form, FormItem
from carepath.store import her_forms, her_pages
from carepath.webapi.auth import patients
from carepath.webapi.h5 import blp
from carepath.webapi.h5.inbox import LAST_ID

KIND_NAMES = {"questionnaire": "问卷", "exam": "小测验", "survey": "调查"}


def _her() -> patients.PatientIdentity:
    her = patients.current_patient()
    assert her is not None  # @require_patient
    return her


def _tools() -> tuple[Any, Any, Any]:
    app = current_app
    return app.extensions["carepath.db"], app.extensions["carepath.cipher"], app.config["CLOCK"]()


@blp.get("/h5/forms")
@patients.require_patient
def forms() -> Any:
    her = _her()
    db, _, now = _tools()
    found = her_forms.her_forms(db, her.hospital_id, her.patient_id, her.pregnancy_id, now)
    return render_template("h5/forms.html", due=found.due, done=found.done, kinds=KIND_NAMES)


def _sent(form_id: int) -> her_forms.SentForm:
    her = _her()
    if form_id > LAST_ID:
        abort(404)
    db, _, now = _tools()
    try:
        return her_forms.sent_form(db, her.hospital_id, her.patient_id, form_id, now)
    except her_forms.FormNotFoundError:
        abort(404)


@blp.get("/h5/forms/<int:form_id>")
@patients.require_patient
def form(form_id: int) -> Any:
    sent = _sent(form_id)
    if sent.answered is not None:
        return _answered_page(sent)
    return _form_page(sent, MultiDict(), {}, secrets.token_urlsafe(24))


@blp.post("/h5/forms/<int:form_id>")
@patients.require_patient
def submit(form_id: int) -> Any:
    her = _her()
    if form_id > LAST_ID:
        abort(404)
    db, cipher, now = _tools()
    token = request.form.get("submission", "")

    def file_at_once(session: Any, pregnancy_id: str) -> None:
        her_answers.file_at_once(session, her.hospital_id, pregnancy_id, now)

    try:
        her_forms.submit(
            db, cipher, hospital_id=her.hospital_id, patient_id=her.patient_id, outbox_id=form_id,
            token=token, answers_of=lambda form: _answers(form, request.form), now=now, on_done=file_at_once,
        )  # fmt: skip
    except her_forms.FormNotFoundError:
        abort(404)
    except her_forms.SubmissionTokenError:
        return render_template(
            "h5/message.html", title="页面已过期", text="页面已过期，请返回后刷新页面再填写。",
            link=url_for("h5.form", form_id=form_id), link_text="重新打开",
        ), 400  # fmt: skip
    except her_forms.AnswersInvalidError as error:
        errors, general = _errors(error.sent.form, error.errors)
        return _form_page(error.sent, request.form, errors, token, general=general, status=422)
    return redirect(url_for("h5.form", form_id=form_id), code=303)


# --- her answers from the posted form ---------------------------------------------------------


def _number(text: str) -> object:
    """A number as she typed it (full-width digits too); anything else is kept as text, which
    the responses service refuses as not a number."""
    plain = unicodedata.normalize("NFKC", text).replace(",", "").strip()
    try:
        value = float(plain)
    except ValueError:
        return text
    if not math.isfinite(value):
        return text
    return int(value) if value.is_integer() and "." not in plain else value


def _answers(form: Form, posted: Mapping[str, Any]) -> dict[str, Any]:
    """Her answers as the responses service takes them; an empty field is no answer."""
    out: dict[str, Any] = {}
    for item in form.items:
        if item.type == "multiple":
            chosen = [v for v in posted.getlist(item.id) if v]  # type: ignore[attr-defined]
            if chosen:
                out[item.id] = chosen
            continue
        value = str(posted.get(item.id, ""))
        if item.type != "text":
            value = value.strip()
        if not value.strip():
            continue
        out[item.id] = _number(value) if item.type == "number" else value
    return out


def _field_message(item: FormItem, code: str, chosen: object) -> str:
    """The responses service's problem code, said to her next to the field."""
    if code == "required":
        return (
            "请选择一项"
            if item.type == "single"
            else "请至少选择一项"
            if item.type == "multiple"
            else "请填写这一项"
        )
    if code == "too-long":
        return f"最多填写{MAX_TEXT}个字"
    if item.type == "number" and item.range is not None:
        low, high = item.range
        return f"请填写{low:g}～{high:g}之间的数字（单位：{item.unit}）"
    if item.type == "date":
        return "请填写正确的日期"
    if item.type == "multiple" and isinstance(chosen, list):
        alone = [c.label for c in item.choices if c.exclusive and c.value in chosen]
        if alone and len(chosen) > 1:
            return f"选了“{alone[0]}”就不能再选其他选项"
    return "请从给出的选项中选择"


def _errors(form: Form, problems: list[dict[str, str]]) -> tuple[dict[str, str], list[str]]:
    """(item id -> her message, messages that belong to no field)."""
    posted = _answers(form, request.form)
    fields: dict[str, str] = {}
    general: list[str] = []
    for problem in problems:
        path = problem.get("path", "")
        item = form.item(path.removeprefix("answers.")) if path.startswith("answers.") else None
        if item is None:
            general.append("提交的内容有误，请刷新页面后重新填写。")
            continue
        fields.setdefault(item.id, _field_message(item, problem.get("code", ""), posted.get(item.id)))
    return fields, list(dict.fromkeys(general))


# --- pages ------------------------------------------------------------------------------------


def _form_page(
    sent: her_forms.SentForm,
    values: Mapping[str, Any],
    errors: dict[str, str],
    token: str,
    *,
    general: list[str] | None = None,
    status: int = 200,
) -> Any:
    chosen = (
        {item.id: [str(v) for v in values.getlist(item.id)] for item in sent.form.items} if values else {}
    )  # type: ignore[attr-defined]
    return render_template(
        "h5/form.html",
        sent=sent,
        form=sent.form,
        values=values,
        chosen=chosen,
        errors=errors,
        general=general or [],
        token=token,
        max_text=MAX_TEXT,
        kinds=KIND_NAMES,
    ), status


def _shown(item: FormItem, value: object) -> str:
    """Her answer in words: the labels of her choices, a number with its unit."""
    if item.choices:
        values = value if isinstance(value, list) else [value]
        return "、".join(c.label for v in values if (c := item.choice(v)) is not None)
    if value is None or value == "":
        return "未填写"
    if item.type == "number":
        return f"{value:g} {item.unit}" if isinstance(value, int | float) else str(value)
    return str(value)


def _answered_page(sent: her_forms.SentForm) -> Any:
    her = _her()
    db, cipher, now = _tools()
    answered = sent.answered
    assert answered is not None
    phone = her_answers.emergency_phone(db, her.hospital_id)
    advice = []
    if answered.advice:
        today = her_pages.hospital_today(db, her.hospital_id, now)
        facts = her_item.her_facts(
            her_pages.her_home(db, cipher, hospital_id=her.hospital_id, patient_id=her.patient_id,
                               pregnancy_id=sent.pregnancy_id, today=today),
            today,
        )  # fmt: skip
        for found in answered.advice:
            title, html = her_answers.advice_html(db, her.hospital_id, found.item, facts, phone)
            advice.append({"title": title, "html": Markup(html)})
    review = []
    if sent.form.kind == "exam":
        for item in sent.form.items:
            given = answered.answers.get(item.id)
            right = list(item.answer or ())
            mine = sorted(given) if isinstance(given, list) else [given]
            shown_right = _shown(item, right if item.type == "multiple" else (right[0] if right else None))
            review.append(
                {
                    "item": item,
                    "mine": _shown(item, given),
                    "right": shown_right,
                    "correct": sorted(right) == mine,
                }
            )
    return render_template(
        "h5/form_done.html",
        sent=sent,
        form=sent.form,
        answered=answered,
        score=answered.score,
        advice=advice,
        phone=phone,
        review=review,
        kinds=KIND_NAMES,
    )
