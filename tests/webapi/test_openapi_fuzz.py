"""Schemathesis over ``/api/openapi.json``, in process (WSGI): no 5xx, no response off its schema.

Every operation is HMAC-signed, and the signature covers the exact path, query and body
bytes, which exist only once schemathesis has serialised the request. So the auth provider
marks a case with a placeholder signature, and a WSGI middleware in front of the app signs
each marked request as a staff tool would: it first puts a real staff member's id in a
schema-valid ``X-Carepath-Staff`` (a missing or malformed one is left to be refused), then
signs, the staff header being part of the canonical string whenever it is sent. A case
without the placeholder (schemathesis's own probes for ignored authentication remove or
replace it) reaches the app unsigned and must be refused, and so does a case without one of
the other signing headers the document requires (a negative case leaves one out).

Bounded: ``POSITIVE_EXAMPLES`` and ``NEGATIVE_EXAMPLES`` per operation, derandomised (the
same cases every run); a generous timeout stops a runaway generation (a bound, not a measure).

Checks: every default one but three. ``positive_data_acceptance`` is off because a schema
cannot say everything the event API checks (his_id or id_number; each event type's ``data``
has its own JSON Schema, applied after the envelope): schema-valid events are rightly refused
with 422. ``use_after_free`` and ``ensure_resource_availability`` need stateful links, which
the spec does not declare; ``max_response_time`` would make the run depend on the machine.
"""

from __future__ import annotations

import io
import re
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    missing_required_header,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)
from werkzeug.wrappers import Request

from carepath.signing import HEADERS, NONCE_HEADER, sign_request
from tests.conftest import Clock
from tests.store.test_tasks import add_staff
from tests.webapi.conftest import Api, diagnosis, registration

PLACEHOLDER = "sign-me"
#: The other signing headers the document requires (security schemes): schemathesis generates
#: them and the middleware overwrites them; a negative case leaves one out.
SIGNING_HEADERS = [f"HTTP_{h.upper().replace('-', '_')}" for h in HEADERS if h != "X-Carepath-Signature"]
SIGNING_HEADERS.append(f"HTTP_{NONCE_HEADER.upper().replace('-', '_')}")
STAFF_ID = re.compile("[0-9]{1,18}")
POSITIVE_EXAMPLES = 25
NEGATIVE_EXAMPLES = 10
CHECKS = [
    not_a_server_error,
    negative_data_rejection,
    missing_required_header,
    unsupported_method,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    ignored_auth,
]


class SigningMiddleware:
    """Signs requests that carry the placeholder signature; counts what reached the app."""

    def __init__(self, app: Callable[..., Any], api: Api, staff_id: str, clock: Clock) -> None:
        self.app, self.api, self.staff_id, self.clock = app, api, staff_id, clock
        self.statuses: dict[bool, Counter[int]] = {True: Counter(), False: Counter()}

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        signing = environ.get("HTTP_X_CAREPATH_SIGNATURE") == PLACEHOLDER and all(
            name in environ for name in SIGNING_HEADERS
        )
        if signing:
            request = Request(environ)
            body = request.get_data()
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
            query = request.query_string.decode("latin-1")
            path = request.path + (f"?{query}" if query else "")
            # A schema-valid staff id becomes the real one; a missing or malformed one (a
            # negative case) reaches the app as generated, to be refused. Set before signing:
            # the staff header, when sent, is the canonical string's seventh line.
            if STAFF_ID.fullmatch(environ.get("HTTP_X_CAREPATH_STAFF", "")):
                environ["HTTP_X_CAREPATH_STAFF"] = self.staff_id
            headers = sign_request(
                self.api.key.secret,
                request.method,
                path,
                timestamp=str(int(self.clock.now.timestamp())),
                key_id=self.api.key.key_id,
                body=body,
                staff=environ.get("HTTP_X_CAREPATH_STAFF"),
            )
            for name, value in headers.items():
                environ["HTTP_" + name.upper().replace("-", "_")] = value

        def counting(status: str, *args: Any) -> Any:
            self.statuses[signing][int(status.split(maxsplit=1)[0])] += 1
            return start_response(status, *args)

        return self.app(environ, counting)


@pytest.fixture
def seeded(api: Api, app: Flask) -> str:
    """Two women (one with GDM: enrolments, tags, actions) and a staff member's id."""
    nurse = add_staff(app, "a")
    for his_id, id_number in (("p-001", "33010219900412180X"), ("p-002", "110101199202021220")):
        event = registration(his_id, event_id=f"reg-{his_id}", id_number=id_number, name="王小红")
        assert api.post("/api/v1/events", event).status_code == 201
    assert api.post("/api/v1/events", diagnosis()).status_code == 201
    return nurse.id


@pytest.mark.timeout(900)  # a bound against a runaway generation, far above a loaded run (~2 min)
def test_schemathesis_finds_no_server_error_and_no_response_off_its_schema(
    app: Flask, api: Api, clock: Clock, seeded: str
) -> None:
    middleware = SigningMiddleware(app.wsgi_app, api, seeded, clock)
    app.wsgi_app = middleware  # type: ignore[method-assign]
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)

    @schema.auth()
    class Placeholder:
        def get(self, case: Any, context: Any) -> str:
            return PLACEHOLDER

        def set(self, case: Any, data: str, context: Any) -> None:
            case.headers = {**(case.headers or {}), "X-Carepath-Signature": data}

    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for mode, examples in (
            (GenerationMode.POSITIVE, POSITIVE_EXAMPLES),
            # The staff header is set by the middleware, so a case negative only there would be
            # accepted: negative cases are checked for 5xx and conformance, not for rejection.
            (GenerationMode.NEGATIVE, NEGATIVE_EXAMPLES),
        ):

            @given(case=operation.as_strategy(mode, auth_storage=schema.auth))
            @settings(
                max_examples=examples,
                deadline=None,
                derandomize=True,
                database=None,
                phases=[Phase.explicit, Phase.generate, Phase.shrink],
                suppress_health_check=list(HealthCheck),
            )
            def run(case: Any) -> None:
                response = case.call()
                case.validate_response(response, checks=CHECKS)

            run()

    signed, unsigned = middleware.statuses[True], middleware.statuses[False]
    generated = sum(signed.values())
    reached = generated - signed[401]
    print(
        f"\nschemathesis: {operations} operations, {generated} generated requests (signed), "
        f"{reached} past authentication ({reached / generated:.0%}), statuses {dict(signed)}; "
        f"{sum(unsigned.values())} unsigned probes, statuses {dict(unsigned)}"
    )
    assert operations >= 10
    # Generated requests reach the handlers; the 401s among them are negative cases whose staff
    # header is missing or malformed, refused as they should be (about 13%).
    assert reached / generated > 0.8
    # Without the signature nothing is answered but the spec itself (fetched first) and 404s
    # of paths no route matches (an invalid path parameter misses its route).
    assert unsigned[200] == 1 and set(unsigned) <= {200, 401, 404}
    assert not [status for status in signed if status >= 500]
