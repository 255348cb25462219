"""The review page's impact panel: what publishing a pathway version would change.

Plugged into ``app.extensions["carepath.review_impact"]`` (``editor_review`` renders it in
``#impact`` while the version is in review):

- **behaviour diff per persona**, on page load: each demo patient's whole pregnancy under the
  published library and under the candidate (``impact.persona_diff``): actions added, removed
  and moved, with her week;
- **cohort impact**, on demand (a button; ``GET /editor/api/versions/<id>/impact?weeks=N``,
  permission ``impact.run``): every pregnancy of the hospital in care today, from its stored
  state, dry-run for the next N weeks under both choices (migrate or stay pinned), as
  ``docs/impact.md`` defines them. States are read in chunks and simulated as they come (the
  memory held is one chunk and the counters), in this process with one worker: forking a
  threaded web server is not safe. The read of patient states is audited.

Pregnancies are shown by a masked id only (the first characters of a random key); nothing
links to a patient record.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import datetime, timedelta
from datetime import time as clock_time
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, render_template, request
from flask_babel import gettext
from markupsafe import Markup
from sqlalchemy.orm import Session

from carepath.engine.clock import format_gestational_age, gestational_days
from carepath.engine.impact import (
    Changes,
    CohortImpact,
    Enrolled,
    Plan,
    changed_pathways,
    impact_json,
    persona_diff,
)
from carepath.engine.preview import AFTER_EDD
from carepath.engine.simulate import Row
from carepath.store import authoring
from carepath.store.authoring import AuthoringError
from carepath.store.models import DocumentVersion
from carepath.store.release import in_care_states
from carepath.store.scope import audit
from carepath.webapi.auth.permissions import current_staff, require
from carepath.webapi.common.diagnostics_text import page_translate, problem_line
from carepath.webapi.common.problems import ApiProblemError
from carepath.webapi.staff.editor.candidate import Candidate, candidate, demo, demo_patients, engine_settings
from carepath.webapi.staff.editor_api import READ_PERMISSION, _db, _need, _now, editor
from carepath.webapi.staff.editor_preview import demo_folder
from carepath.webapi.staff.review_text import refusal_message

DEFAULT_WEEKS = 8
WEEK_CHOICES = (2, 4, 8, 12, 26)
DETAILED = 50  # affected pregnancies listed with their changes


blp = Blueprint("review_impact", __name__, url_prefix="/editor/api")


def init_app(app: Flask) -> None:
    app.extensions["carepath.review_impact"] = review_impact
    app.register_blueprint(blp)


def _week(row: Row) -> str:
    return row.gestational_age.split("+", 1)[0] if row.gestational_age else "—"


def persona_diffs(target: Candidate) -> list[dict[str, Any]]:
    """Each demo patient's behaviour diff between the published library and the candidate."""
    settings = engine_settings()
    found = []
    for name, path in sorted(demo_patients(demo_folder()).items()):
        facts, events = demo(path)
        end = (facts.edd or facts.enrolled_at.date() + timedelta(days=280)) + AFTER_EDD
        until = datetime.combine(end, clock_time(23, 59, 59), settings.window.zone)
        changes: Changes[Row] = persona_diff(
            target.base, target.library, facts, events, until=until, settings=settings
        )
        found.append({"name": name, "changes": changes, "week": _week})
    return found


def review_impact(session: Session, version: DocumentVersion) -> Markup:
    """The panel's HTML (escaped by Jinja): persona diffs now, the cohort on a click."""
    me = editor()
    target = candidate(session, me.hospital_id, version)
    staff = current_staff()
    context: dict[str, Any] = {
        "target": target,
        "personas": [],
        "changed": [],
        "may_run": staff is not None and staff.can("impact.run"),
        "weeks": WEEK_CHOICES,
        "default_weeks": DEFAULT_WEEKS,
    }
    if target.document.kind == "pathway" and not target.problems:
        context["changed"] = sorted(changed_pathways(target.base, target.library))
        context["personas"] = persona_diffs(target)
    return Markup(render_template("editor/_impact.html", **context))


def mask(pregnancy_id: str) -> str:
    """A pregnancy as the panel lists it: enough to tell two apart, nothing to look her up by."""
    return pregnancy_id[:6] + "…"


def _by_action(impact: CohortImpact, choice: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = getattr(impact, choice).as_json(0)["by_action"]
    return rows


def cohort_report(plan: Plan, cohort: Iterable[Enrolled]) -> dict[str, Any]:
    """The cohort impact as the panel shows it: ``impact_json`` without the full list of
    affected ids, and the first ``DETAILED`` affected pregnancies (masked) with their changes.
    Each pregnancy runs alone, so that her own changes are known; nothing of her is kept
    after unless she is among those listed."""
    now = plan.now
    total = CohortImpact()
    detailed: list[dict[str, Any]] = []
    for enrolled in cohort:
        one = plan.run([enrolled])
        total.add(one)
        if len(detailed) < DETAILED and (one.pin.affected or one.migrate.affected):
            facts = enrolled.state.facts
            today = plan.settings.window.local_date(now)
            ga = format_gestational_age(gestational_days(facts.edd, today)) if facts.edd else None
            detailed.append(
                {
                    "id": mask(facts.pregnancy_id),
                    "ga": ga,
                    **{c: _by_action(one, c) for c in ("pin", "migrate")},
                }
            )
    report = impact_json(plan, total, affected_limit=0)
    for choice in ("pin", "migrate"):
        report[choice].pop("affected", None)
    report["affected"] = detailed
    return report


@blp.get("/versions/<int:version_id>/impact")
@require("impact.run")
def cohort_impact(version_id: int) -> Response:
    me = editor()
    try:
        weeks = int(request.args.get("weeks", DEFAULT_WEEKS))
    except ValueError:
        weeks = 0
    if not 1 <= weeks <= max(WEEK_CHOICES):
        detail = gettext("weeks must be a whole number from 1 to %(most)s", most=max(WEEK_CHOICES))
        raise ApiProblemError(422, "bad-weeks", detail)
    now = _now()
    started = time.perf_counter()
    with _db().reading() as session:
        try:
            version = authoring.get_version(session, me.hospital_id, version_id)
        except AuthoringError as error:
            raise ApiProblemError(404, "document-not-found", refusal_message(error, page_translate)) from None
        document = authoring.document_of(session, version)
        _need(READ_PERMISSION[document.kind])
        if document.kind != "pathway":
            detail = gettext("only a pathway version changes what patients get")
            raise ApiProblemError(409, "not-a-pathway", detail)
        target = candidate(session, me.hospital_id, version)
        if target.problems:
            listed = "; ".join(problem_line(p) for p in target.problems[:5])
            raise ApiProblemError(422, "not-compiled", listed)
        label = target.label
        plan = Plan.build(target.base, target.library, now, weeks, engine_settings())
        report = cohort_report(plan, in_care_states(session, me.hospital_id, now))
    with _db().transaction() as session:  # the read of every enrolled woman's state
        audit(
            session,
            me.actor,
            "read",
            now,
            f"cohort impact of {label}: {report['patients']} pregnancies in care, {weeks} weeks",
        )
    report["seconds"] = round(time.perf_counter() - started, 3)
    current_app.logger.info("cohort impact of %s: %s s", label, report["seconds"])
    return jsonify(report)
