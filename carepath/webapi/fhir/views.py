"""FHIR R4 intake at ``/fhir/r4/``: a Bundle mapped onto HIS events (``mapping.py``).

``POST /fhir/r4/`` takes a ``transaction`` or ``collection`` Bundle, signed like
``/api/v1/events``. A transaction is all or nothing: any entry that cannot be mapped or is
refused makes the answer an ``OperationOutcome`` (4xx) and nothing is written. A collection is
answered entry by entry (a ``batch-response`` Bundle), like ``/api/v1/events:batch``. Each
entry's ``response`` carries its status, an ``OperationOutcome`` with what could not be mapped
and the actions produced, and one extension per event with the event's answer as JSON.
``GET /fhir/r4/metadata`` is the CapabilityStatement (no signature needed).
"""

from __future__ import annotations

import json
from datetime import datetime
from http import HTTPStatus
from typing import Any

from flask import Blueprint, Response, current_app, g, request

from carepath.errors import CarepathError
from carepath.store import batch, events
from carepath.store.event_input import HisEvent, InvalidEventError, catalogue, parse_event
from carepath.webapi.auth import require_integrator
from carepath.webapi.common.jsonbody import parse_strict
from carepath.webapi.common.problems import ApiProblemError
from carepath.webapi.fhir import mapping as fm

FHIR_JSON = "application/fhir+json"
ANSWER_EXTENSION = "https://carepath.example/fhir/StructureDefinition/event-answer"
PROBLEM_SYSTEM = "https://carepath.example/problems/"

blp = Blueprint("fhir", __name__, url_prefix="/fhir/r4")


def _fhir(body: dict[str, Any], status: int = 200) -> Response:
    return Response(json.dumps(body, ensure_ascii=False), status=status, mimetype=FHIR_JSON)


def outcome(issues: list[fm.Issue] | list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [i.as_fhir() if isinstance(i, fm.Issue) else i for i in issues],
    }


_ISSUE_CODE = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    409: "conflict",
    413: "too-long",
}


def _problem_issue(status: int, code: str, detail: str, expression: str | None = None) -> dict[str, Any]:
    issue: dict[str, Any] = {
        "severity": "error",
        "code": _ISSUE_CODE.get(status, "processing" if status == 422 else "invalid"),
        "details": {"coding": [{"system": PROBLEM_SYSTEM, "code": code}], "text": code},
        "diagnostics": detail,
    }
    if expression:
        issue["expression"] = [expression]
    return issue


@blp.errorhandler(ApiProblemError)
def _api_problem(error: ApiProblemError) -> Response:
    detail = error.message
    if "canonical_string" in error.extra:
        detail += f"; the server signed: {error.extra['canonical_string']!r}"
    if "missing" in error.extra:
        detail += f" ({', '.join(error.extra['missing'])})"
    return _fhir(outcome([_problem_issue(error.status, error.code, detail)]), error.status)


def _body() -> Any:
    """The request's JSON (application/fhir+json, or application/json), strictly parsed."""
    if request.mimetype not in (FHIR_JSON, "application/json"):
        raise ApiProblemError(415, "unsupported-media-type", f"send Content-Type: {FHIR_JSON}")
    return parse_strict(request.get_data(cache=True))


def _settings() -> fm.Settings:
    systems = current_app.config["FHIR_ICD10_NATIONAL_SYSTEMS"]
    if isinstance(systems, str):
        systems = tuple(s.strip() for s in systems.split(",") if s.strip())
    return fm.Settings(
        labs={code: lab.unit for code, lab in catalogue().labs.items()},
        national_icd10=tuple(systems),
        offset=current_app.config["FHIR_DEFAULT_OFFSET"],
    )


#: Fixed reason phrases (Python's differ between versions: 422 was renamed in 3.13).
_PHRASES = {200: "OK", 201: "Created", 404: "Not Found", 409: "Conflict", 422: "Unprocessable Entity"}


def _status_line(status: int) -> str:
    return f"{status} {_PHRASES.get(status) or HTTPStatus(status).phrase}"


@blp.get("/metadata")
def metadata() -> Response:
    """The CapabilityStatement: what this endpoint takes and how it maps it."""
    settings = _settings()
    mapping = {
        "Patient": "patient.registered (identifier "
        f"{fm.HIS_ID_SYSTEM} = HIS id, else the resource id; {fm.ID_NUMBER_SYSTEM} = resident ID number, "
        f"{fm.ID_NUMBER_SYSTEM}:<id_type> = another identity document's number)",
        "Condition": f"diagnosis.added / diagnosis.removed (ICD-10: {', '.join(settings.national_icd10)}, "
        f"{fm.ICD10_WHO})",
        "Observation": f"lab.result ({fm.LAB_SYSTEM}, "
        f"LOINC {', '.join([*fm.LOINC_LABS, fm.LOINC_BP_PANEL])}); "
        f"pregnancy facts (LOINC {', '.join(fm.LOINC_FACTS)}, {fm.PREGNANCY_SYSTEM})",
        "Encounter": f"encounter.completed when finished (type {fm.ENCOUNTER_KIND_SYSTEM})",
    }
    body = {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-11-25",
        "kind": "instance",
        "software": {"name": "carepath"},
        "implementation": {"description": "carepath FHIR R4 intake: Bundles mapped onto HIS events"},
        "fhirVersion": "4.0.1",
        "format": [FHIR_JSON, "json"],
        "rest": [
            {
                "mode": "server",
                "documentation": "POST a Bundle (transaction or collection) to the base, signed with "
                "the carepath HMAC scheme (X-Carepath-Key, -Timestamp, -Content-SHA256, -Nonce, -Signature; "
                "a new nonce for every request, a retry too). "
                "Events are idempotent on resource id + meta.versionId.",
                "security": {"description": "HMAC-SHA256 integrator keys; see docs/signing.md"},
                "resource": [
                    {"type": kind, "documentation": text, "interaction": [{"code": "create"}]}
                    for kind, text in mapping.items()
                ],
                # collection Bundles are taken too (each entry on its own); batch Bundles are not
                "interaction": [{"code": "transaction"}],
            }
        ],
    }
    return _fhir(body)


class _EntryFailedError(Exception):
    def __init__(self, index: int, error: CarepathError) -> None:
        super().__init__(error.message)
        self.index = index
        self.error = error


@blp.post("/")
@require_integrator
def post_bundle() -> Response:
    """Take a Bundle (see the module docstring)."""
    raw = _body()
    try:
        mapped = fm.map_bundle(raw, _settings())
    except fm.BundleRefusedError as exc:
        return _fhir(outcome(exc.issues), 422 if isinstance(raw, dict) else 400)
    limit = current_app.config["MAX_BATCH"]
    pending = mapped.events()
    if len(pending) > limit:
        issue = fm.Issue("error", "too-long", f"a Bundle maps to at most {limit} events", "Bundle.entry")
        return _fhir(outcome([issue]), 422)
    now = current_app.config["CLOCK"]()
    checked: list[tuple[int, dict[str, Any], HisEvent]] = []
    for index, event in pending:
        try:
            checked.append((index, event, parse_event(event, now)))
        except InvalidEventError as exc:
            item = mapped.entries[index]
            for problem in exc.problems:
                item.issues.append(
                    fm.Issue(
                        "error",
                        "invalid",
                        f"its event {event['id']} ({event['type']}) does not fit: "
                        f"{problem.path + ': ' if problem.path else ''}{problem.message}",
                        f"Bundle.entry[{index}].resource",
                    )
                )
    # An entry is mapped whole or not at all (a blood pressure with one bad component records neither).
    checked = [c for c in checked if not mapped.entries[c[0]].failed]
    if mapped.bundle_type == "transaction":
        return _transaction(mapped, checked, now)
    return _collection(mapped, checked, now)


def _transaction(
    mapped: fm.Mapped, checked: list[tuple[int, dict[str, Any], HisEvent]], now: datetime
) -> Response:
    issues = [i for e in mapped.entries for i in e.issues if i.severity in ("error", "fatal")]
    if issues:
        return _fhir(outcome(issues), 422)
    db = current_app.extensions["carepath.db"]
    cipher = current_app.extensions["carepath.cipher"]

    def work(session: Any) -> list[events.Answer]:
        batch._lock_in_order(session, cipher, g.actor, [raw for _, raw, _ in checked])
        answers = []
        for index, _, event in checked:
            try:
                answers.append(events.process(session, cipher, g.actor, event, now))
            except CarepathError as exc:
                raise _EntryFailedError(index, exc) from exc
        return answers

    try:
        answers = events.retrying(db, work)
    except _EntryFailedError as failed:
        status = events.status_of(failed.error)
        issue = _problem_issue(
            status,
            failed.error.code,
            f"the transaction was not applied: {failed.error.message}",
            f"Bundle.entry[{failed.index}]",
        )
        return _fhir(outcome([issue]), status)
    results: dict[int, list[dict[str, Any]]] = {}
    for (index, _, _), answer in zip(checked, answers, strict=True):
        results.setdefault(index, []).append({"status": answer.status, "result": answer.body})
    return _fhir(_response_bundle(mapped, results, "transaction-response"))


def _collection(
    mapped: fm.Mapped, checked: list[tuple[int, dict[str, Any], HisEvent]], now: datetime
) -> Response:
    db = current_app.extensions["carepath.db"]
    cipher = current_app.extensions["carepath.cipher"]
    valid = [(index, raw) for index, raw, _ in checked]
    answered = batch.post_batch(db, cipher, g.actor, [raw for _, raw in valid], now) if valid else []
    results: dict[int, list[dict[str, Any]]] = {}
    for (index, _), result in zip(valid, answered, strict=True):
        results.setdefault(index, []).append(result)
    return _fhir(_response_bundle(mapped, results, "batch-response"))


def _response_bundle(
    mapped: fm.Mapped, results: dict[int, list[dict[str, Any]]], bundle_type: str
) -> dict[str, Any]:
    entries = []
    for item in mapped.entries:
        issues: list[dict[str, Any]] = [i.as_fhir() for i in item.issues]
        extensions = []
        statuses = []
        for event, result in zip(item.events, results.get(item.index, []), strict=False):
            statuses.append(int(result["status"]))
            if "problem" in result:
                problem = result["problem"]
                issues.append(
                    _problem_issue(
                        int(result["status"]),
                        problem["code"],
                        f"its event {event['id']} ({event['type']}) was refused: {problem['detail']}",
                        f"Bundle.entry[{item.index}]",
                    )
                )
                continue
            answer = result["result"]
            actions = answer.get("actions", [])
            issues.append(
                {
                    "severity": "information",
                    "code": "informational",
                    "diagnostics": f"event {event['id']} ({event['type']}) "
                    + ("recorded" if result["status"] == 201 else "already recorded: the same answer")
                    + f"; {len(actions)} action(s)"
                    + "".join(f"; {a['pathway']}/{a['rule']} {a['action']} at {a['at']}" for a in actions),
                    "expression": [f"Bundle.entry[{item.index}]"],
                }
            )
            issues.extend(
                {
                    "severity": "warning",
                    "code": "code-invalid",
                    "diagnostics": f"{warning['code']}: {warning['message']}",
                    "expression": [f"Bundle.entry[{item.index}]"],
                }
                for warning in answer.get("warnings", [])
            )
            extensions.append(
                {"url": ANSWER_EXTENSION, "valueString": json.dumps(answer, ensure_ascii=False)}
            )
        folded = fm.folded_event_id(mapped, item)
        if folded is not None:
            carrier = next(
                (e.index for e in mapped.entries if e.events and e.events[0]["id"] == folded), item.index
            )
            refused = [int(r["status"]) for r in results.get(carrier, []) if int(r["status"]) >= 400]
            if mapped.entries[carrier].failed:
                refused.append(422)
            statuses += refused
            issues.append(
                {
                    "severity": "error" if refused else "information",
                    "code": "processing" if refused else "informational",
                    "diagnostics": f"carried by the registration event {folded}"
                    + (f" (Bundle.entry[{carrier}]), which was refused" if refused else ""),
                    "expression": [f"Bundle.entry[{item.index}]"],
                }
            )
        if item.failed:
            status = 422
        elif any(s >= 400 for s in statuses):
            status = max(statuses)
        elif 201 in statuses:
            status = 201
        else:
            status = 200
        response: dict[str, Any] = {"status": _status_line(status)}
        if item.location:
            response["location"] = item.location
        if issues:
            response["outcome"] = outcome(issues)
        if extensions:
            response["extension"] = extensions
        entries.append({"response": response})
    return {"resourceType": "Bundle", "type": bundle_type, "entry": entries}
