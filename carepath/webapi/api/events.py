"""``POST /api/v1/events`` and ``POST /api/v1/events:batch``: the HIS posts what happened."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import current_app, g
from flask.views import MethodView
from flask_smorest import Blueprint

from carepath.store import batch, events
from carepath.store.event_input import HisEvent, InvalidEventError, parse_event
from carepath.webapi.api.openapi_docs import EVENT_BY_TYPE, json_request
from carepath.webapi.api.schemas import (
    BatchAnswerSchema,
    BatchSchema,
    EventAnswerSchema,
    envelope_problems,
)
from carepath.webapi.auth import replay, require_integrator
from carepath.webapi.auth.integrators import require_integrator_nonce_with_the_work
from carepath.webapi.common.jsonbody import json_body
from carepath.webapi.common.problems import ApiProblemError

blp = Blueprint(
    "events",
    __name__,
    url_prefix="/api/v1",
    description="HIS events: one, or a batch of up to 1,000 each answered on its own.",
)

_SIGNED = {"security": [{"carepath-hmac": []}]}


def _services() -> tuple[Any, Any, Any]:
    return (
        current_app.extensions["carepath.db"],
        current_app.extensions["carepath.cipher"],
        current_app.config,
    )


def _checked_envelope(raw: Any) -> None:
    problems = envelope_problems(raw)
    if problems:
        raise ApiProblemError(
            422, "invalid-event", problems[0]["path"] + ": " + problems[0]["message"], problems
        )


def _parsed(raw: Any, now: datetime) -> HisEvent:
    """The event, checked by one schema (issue 22 item 3): his-event.schema.json, which
    ``parse_event`` applies anyway and which is as strict as the envelope's marshmallow schema
    or stricter. Only a refused event meets the envelope check too, first, as it always did, so
    a refusal is answered with the same problems as before."""
    try:
        return parse_event(raw, now)
    except (InvalidEventError, ValueError):
        _checked_envelope(raw)
        raise


@blp.route("/events")
class EventsView(MethodView):
    @require_integrator_nonce_with_the_work
    @blp.doc(
        **json_request(EVENT_BY_TYPE),
        **_SIGNED,
    )
    @blp.response(201, EventAnswerSchema, description="processed now: the actions it produced")
    @blp.alt_response(200, schema=EventAnswerSchema, description="the same event again: the same answer")
    @blp.alt_response(409, description="the same id with a different body")
    @blp.alt_response(422, description="invalid event, unknown patient or pregnancy")
    def post(self) -> Any:
        """Post one HIS event.

        An event for an unknown patient is refused (``unknown-patient``) unless it is
        ``patient.registered``, which creates her and her pregnancy.
        """
        db, cipher, config = _services()
        now = config["CLOCK"]()
        with replay.claimed_with_the_work() as nonce:  # one transaction per event (issue 22)
            event = _parsed(json_body(), now)
            answer = events.post_parsed(db, cipher, g.actor, event, now, first=nonce)
        return answer.body, answer.status


@blp.route("/events:batch")
class EventsBatchView(MethodView):
    @require_integrator
    @blp.doc(
        **json_request(BatchSchema),
        **_SIGNED,
    )
    @blp.response(200, BatchAnswerSchema, description="one result or problem per item, in order")
    def post(self) -> Any:
        """Post up to 1,000 events; each is processed (or refused) on its own, in order."""
        db, cipher, config = _services()
        raw = json_body()
        if not isinstance(raw, dict) or set(raw) != {"events"} or not isinstance(raw["events"], list):
            raise ApiProblemError(422, "invalid-batch", 'a batch is {"events": [event, ...]}')
        items = raw["events"]
        limit = config["MAX_BATCH"]
        if not 1 <= len(items) <= limit:
            raise ApiProblemError(
                422, "invalid-batch", f"a batch holds 1 to {limit} events, not {len(items)}"
            )
        now = config["CLOCK"]()
        results: list[dict[str, Any]] = []
        valid: list[tuple[int, Any]] = []
        for index, item in enumerate(items):
            try:  # one schema check, as for one event (``_parsed``)
                valid.append((index, parse_event(item, now)))
                continue
            except (InvalidEventError, ValueError):
                problems = envelope_problems(item)
            if problems:
                results.append(
                    {
                        "index": index,
                        "status": 422,
                        "problem": {
                            "code": "invalid-event",
                            "detail": problems[0]["message"],
                            "errors": problems,
                        },
                    }
                )
            else:
                valid.append((index, item))
        answered = batch.post_batch(db, cipher, g.actor, [item for _, item in valid], now)
        results += [{**result, "index": index} for (index, _), result in zip(valid, answered, strict=True)]
        results.sort(key=lambda r: int(r["index"]))
        return {"results": results}
