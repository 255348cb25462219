"""What the OpenAPI document (``/api/openapi.json``, Swagger UI at ``/api/docs``) tells an
integrator beyond the routes: how to sign, what a refusal looks like, the FHIR intake.

One apispec plugin (:class:`SignedApiDocs`) registers the components and completes every
operation documented as signed (``security: carepath-hmac``, as each blueprint declares it):
the full set of signing headers as security schemes, the ``401``, ``413`` and ``503`` answers
every signed request may get, and on staff endpoints (those taking ``X-Carepath-Staff``) the
staff header's ``401`` and ``403``. Declared error answers without a body get the problem+json
body they have. Operations that read a strict JSON body say so with :func:`json_request`
(``400`` and ``415``). The codes listed are the ones ``auth/integrators.py``, ``auth/replay.py``
and ``jsonbody.py`` answer (``tests/webapi/test_openapi_document.py`` keeps them equal).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from apispec import APISpec, BasePlugin

from carepath.signing import SCHEME_V1, SCHEME_V2, STAFF_HEADER, canonical_string, sign_request
from carepath.webapi.api import openapi_events
from carepath.webapi.api.schemas import HisEventSchema
from carepath.webapi.common.problems import problem
from carepath.webapi.common.schemas import PROBLEM_JSON, ProblemSchema

#: The page that explains signing step by step (written for integrators, in the repository).
SIGNING_PAGE = "docs/signing.md"
SIGNED = "carepath-hmac"  # the scheme each blueprint names; X-Carepath-Signature

_LAYOUT = f"""    {SCHEME_V2}
    <METHOD>          upper case, e.g. POST
    <PATH>            the path, plus ?query exactly as sent when there is one
    <TIMESTAMP>       X-Carepath-Timestamp
    <KEY ID>          X-Carepath-Key
    <BODY SHA-256>    X-Carepath-Content-SHA256
    <NONCE>           X-Carepath-Nonce
    <STAFF>           only when X-Carepath-Staff is sent: its exact value, always the last line"""


def _example() -> str:
    """A worked example, computed by the signing code itself: it cannot disagree with it."""
    secret, body = "example-secret-not-a-real-one", b'{"id":"reg-001"}'
    at, key, nonce = "1767225600", "ck_0123456789abcdef", "n0nce-0123456789abcdef"
    headers = sign_request(secret, "POST", "/api/v1/events", timestamp=at, key_id=key, body=body, nonce=nonce)
    text = canonical_string("POST", "/api/v1/events", at, key, hashlib.sha256(body).hexdigest(), nonce=nonce)
    lines = "\n".join(f"    {line}" for line in text.split("\n"))
    return (
        f"For example, `POST /api/v1/events` with the body `{body.decode()}`, signed with the "
        f"secret `{secret}`, signs\n\n{lines}\n\nand sends `X-Carepath-Signature: "
        f"{headers['X-Carepath-Signature']}`."
    )


def _signature_description() -> str:
    return (
        "Lower-case hex HMAC-SHA256, with the key's secret, of the **canonical string** "
        f"(scheme `{SCHEME_V2}`): these lines joined by `\\n`, no trailing newline:\n\n{_LAYOUT}\n\n"
        f"{_example()}\n\nA request without X-Carepath-Nonce is the first scheme, `{SCHEME_V1}` "
        "(the same lines without the nonce), accepted only while the hospital's transition lasts. "
        f"Signing step by step: `{SIGNING_PAGE}`."
    )


def _header(line: int, text: str) -> str:
    return (
        f"{text} Signed as line {line} of the canonical string (see X-Carepath-Signature); "
        f"step by step: `{SIGNING_PAGE}`."
    )


#: The signing headers as API-key schemes, all required together (scheme name: header, text).
HEADERS: dict[str, tuple[str, str]] = {
    "carepath-key": (
        "X-Carepath-Key",
        _header(
            5,
            "The API key's id, e.g. `ck_0123456789abcdef`. Refused: `auth-unknown-key`, `auth-revoked-key`.",
        ),
    ),
    "carepath-timestamp": (
        "X-Carepath-Timestamp",
        _header(
            4,
            "Unix seconds, within the replay window of the server's clock (`REPLAY_WINDOW_SECONDS`, "
            "300 s by default). Refused: `auth-bad-timestamp`, `auth-stale-timestamp` (the "
            "answer's `server_time` is the server's clock).",
        ),
    ),
    "carepath-content-sha256": (
        "X-Carepath-Content-SHA256",
        _header(
            6,
            "Lower-case hex SHA-256 of the raw body, of the empty body when there is none. Refused: "
            "`auth-body-hash-mismatch` (the answer's `body_sha256` is what was received).",
        ),
    ),
    "carepath-nonce": (
        "X-Carepath-Nonce",
        _header(
            7,
            "16 to 64 of `A-Z a-z 0-9 _ -`, new for every request, a retry too (the event id keeps "
            "a retry idempotent). Refused: `auth-bad-nonce`, `auth-replayed` (used before with this "
            "key); without it the request is the first scheme, refused once that is retired "
            "(`auth-scheme-retired`).",
        ),
    ),
    SIGNED: ("X-Carepath-Signature", _signature_description()),
}
#: What an operation documented as signed requires: every signing header at once.
SIGNED_REQUIREMENT: dict[str, list[str]] = {name: [] for name in HEADERS}

STAFF_DESCRIPTION = (
    "The id of the staff member acting (of the signing key's hospital); signed, as the last "
    f"line of the canonical string. Refused: 401 `auth-missing-staff` (missing or not an id), "
    f"403 `unknown-staff` (no active staff member of that hospital), 403 `permission-denied` "
    f"(their roles lack the permission; the answer's `permission` names it). See `{SIGNING_PAGE}`."
)

#: 401 codes of a signed request, in the order they are checked (``auth/integrators.py``,
#: ``auth/replay.py``), with the extra members the answer carries.
SIGNATURE_CODES: dict[str, str] = {
    "auth-missing-header": "a signing header is missing (`missing` lists them)",
    "auth-bad-timestamp": "X-Carepath-Timestamp is not Unix seconds",
    "auth-stale-timestamp": "X-Carepath-Timestamp is outside the replay window (`server_time`)",
    "auth-bad-nonce": "X-Carepath-Nonce is not 16 to 64 of A-Z a-z 0-9 _ -",
    "auth-scheme-retired": "no X-Carepath-Nonce, and the first scheme is no longer accepted (`missing`)",
    "auth-body-hash-mismatch": "X-Carepath-Content-SHA256 is not the body's (`body_sha256`)",
    "auth-unknown-key": "no such API key",
    "auth-revoked-key": "the API key has been revoked",
    "auth-bad-signature": "the signature does not match (`canonical_string` is the string the "
    "server signed: compare it with yours)",
    "auth-replayed": "this nonce was already used with this key",
}
STAFF_CODES = {"auth-missing-staff": "X-Carepath-Staff is missing or not a staff id"}
STAFF_REFUSALS = {
    "unknown-staff": "X-Carepath-Staff names no active staff member of the key's hospital",
    "permission-denied": "the staff member's roles lack the permission (`permission` names it)",
}
#: ``jsonbody.py``'s refusals of a body that is not strict JSON.
BAD_JSON_CODES = {
    "bad-json": "not JSON (or NaN, Infinity, nested too deeply)",
    "duplicate-key": "a key appears twice in one object",
    "not-utf8": "the body is not UTF-8",
}
TOO_LARGE_CODE = "body-too-large"
NOT_JSON_CODE = "unsupported-media-type"
UNAVAILABLE_CODE = "auth-replay-check-unavailable"


def _answer(status: int, intro: str, codes: dict[str, str]) -> dict[str, Any]:
    """A response component: problem+json, its codes listed and one example per code."""
    listed = "\n".join(f"- `{code}`: {text}" for code, text in codes.items())
    examples = {
        code: {"summary": code, "value": json.loads(problem(status, code, text.split(" (`")[0]).get_data())}
        for code, text in codes.items()
    }
    return {
        "description": f"{intro}\n\n{listed}",
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}, "examples": examples}},
    }


RESPONSES: dict[str, dict[str, Any]] = {
    "SignatureRefused": _answer(401, f"The signature is refused (see `{SIGNING_PAGE}`).", SIGNATURE_CODES),
    "StaffSignatureRefused": _answer(
        401,
        f"The signature or the staff header is refused (see `{SIGNING_PAGE}`).",
        SIGNATURE_CODES | STAFF_CODES,
    ),
    "StaffRefused": _answer(403, "The staff member may not do this.", STAFF_REFUSALS),
    "BodyTooLarge": _answer(
        413,
        "The body is over the server's limit (`MAX_CONTENT_LENGTH`, 4 MiB by default; a batch of "
        "1,000 events fits).",
        {TOO_LARGE_CODE: "the body is too large"},
    ),
    "NotJson": _answer(415, "The body must be JSON.", {NOT_JSON_CODE: "send Content-Type: application/json"}),
    "BadJson": _answer(400, "The body is not strict JSON.", BAD_JSON_CODES),
    "ReplayCheckUnavailable": _answer(
        503,
        "The nonce store could not be reached; nothing was done. Retry, signed again (a new nonce).",
        {UNAVAILABLE_CODE: "the replay check is unavailable"},
    ),
}


def json_request(schema: Any) -> dict[str, Any]:
    """``@blp.doc(**json_request(Schema))`` on an operation whose view reads its body with
    ``jsonbody.json_body``: the body, and the 400 and 415 that reading answers."""
    return {
        "requestBody": {"content": {"application/json": {"schema": schema}}, "required": True},
        "responses": {"400": "BadJson", "415": "NotJson"},
    }


#: ``POST /api/v1/events``'s body: one schema per event type (``openapi_events``).
EVENT_BY_TYPE = {"$ref": f"#/components/schemas/{openapi_events.BY_TYPE}"}

DESCRIPTION = f"""carepath's integrator API: the HIS posts events and questionnaire responses,
records consents; staff tools read and work tasks.

**Signing.** Every `/api/v1` request is signed: X-Carepath-Key, X-Carepath-Timestamp,
X-Carepath-Content-SHA256, X-Carepath-Nonce and X-Carepath-Signature (the HMAC-SHA256 of the
canonical string; see the security schemes), and X-Carepath-Staff on the staff endpoints.
Signing step by step: `{SIGNING_PAGE}`.

**Errors** are `application/problem+json` (RFC 9457) with a stable `code`; a refused field is
listed in `errors` with its `path` and `code`.

**Events.** `POST /api/v1/events` takes one event; its `data` has a schema per `type`
(`EventData.<type>`).

**FHIR R4 intake** (`/fhir/r4/`), described by FHIR's own CapabilityStatement rather than
here; its answers are FHIR resources (OperationOutcome, Bundle), not problem+json:

- [`GET /fhir/r4/metadata`](/fhir/r4/metadata): the CapabilityStatement (no signature).
- `POST /fhir/r4/`: a `transaction` (all or nothing) or `collection` (entry by entry) Bundle
  of `application/fhir+json`, signed like `/api/v1`, mapped onto the events above.
"""


class SignedApiDocs(BasePlugin):  # type: ignore[misc]
    """Registers the signing components and completes every signed operation."""

    def init_spec(self, spec: APISpec) -> None:
        for name, (header, text) in HEADERS.items():
            spec.components.security_scheme(
                name, {"type": "apiKey", "in": "header", "name": header, "description": text}
            )
        # By name: the components below refer to them before any operation does.
        spec.components.schema("Problem", schema=ProblemSchema)
        spec.components.schema(openapi_events.ENVELOPE, schema=HisEventSchema)
        for name, response in RESPONSES.items():
            spec.components.response(name, response)
        for name, schema in openapi_events.components().items():
            spec.components.schema(name, schema)

    def operation_helper(
        self, path: str | None = None, operations: dict[str, Any] | None = None, **_kwargs: Any
    ) -> None:
        for operation in (operations or {}).values():
            if {SIGNED: []} in operation.get("security", []):
                _complete(operation)


def _complete(operation: dict[str, Any]) -> None:
    operation["security"] = [dict(SIGNED_REQUIREMENT)]
    staff = any(
        p.get("in") == "header" and p.get("name") == STAFF_HEADER for p in operation.get("parameters", [])
    )
    responses = operation.setdefault("responses", {})
    for status, response in responses.items():  # a declared refusal without its body
        if str(status)[0] in "45" and isinstance(response, dict) and not response.keys() - {"description"}:
            response["content"] = {PROBLEM_JSON: {"schema": "Problem"}}
    responses.setdefault("401", "StaffSignatureRefused" if staff else "SignatureRefused")
    if staff:
        responses.setdefault("403", "StaffRefused")
    responses.setdefault("413", "BodyTooLarge")
    responses.setdefault("503", "ReplayCheckUnavailable")
