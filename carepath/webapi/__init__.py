"""The Flask app: ``create_app(config=None)``.

Configuration, later wins: the defaults below, then the instance file
(``instance/carepath.cfg``), then ``CAREPATH_*`` environment variables (``CAREPATH_DATABASE_URL``
sets ``DATABASE_URL``), then ``config`` (tests).

One package per audience, each with its blueprints (one per resource), templates and static
files: ``api/`` (the signed integrator API and its OpenAPI document), ``fhir/``, ``wechat/``
(callbacks), ``sms/`` (the SMS vendors' reply callbacks), ``staff/`` (editor, review, preview,
staff admin) and ``h5/`` (her pages); they
share only ``auth/`` (who is asking) and ``common/`` (problem+json, i18n, JSON bodies, shared
schemas, static files), never import each other (``tests/webapi/test_audience_imports.py``),
and only this factory imports them all. ``health.py`` is operations, no audience's.

Staff pages (login, ``/admin/staff``) use a session cookie with CSRF protection
(``auth/sessions.py``); the HMAC-signed API and FHIR blueprints are exempt from CSRF because
no cookie authenticates them.
"""

from __future__ import annotations

import http
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from flask import Flask, send_from_directory
from flask_smorest import Api
from flask_smorest.utils import prepare_response

from carepath.store.crypto import FieldCipher
from carepath.store.db import DEFAULT_URL, Database
from carepath.webapi.common.schemas import PROBLEM_JSON, ProblemSchema

DEFAULTS: dict[str, Any] = {
    "DATABASE_URL": DEFAULT_URL,
    "FIELD_KEYS": "",  # kid:base64key,... the first is current; older ones still decrypt
    "LOOKUP_KEY": "",  # base64 key of the keyed hash for exact lookups
    "REPLAY_WINDOW_SECONDS": 300,
    "MAX_CONTENT_LENGTH": 4 * 1024 * 1024,  # a full batch of 1,000 events fits well inside
    "MAX_BATCH": 1000,
    # Where the dispatchers share provider access tokens and the API keeps signed requests'
    # nonces: Redis when set (redis://host:6379/0), else the database (``provider_tokens``,
    # ``request_nonces``).
    "REDIS_URL": "",
    # Requests signed the first way (no X-Carepath-Nonce) are accepted until this ISO date or
    # datetime; "" (or true): no end set yet, false: refused (``auth/replay.py``).
    "SIGNING_ACCEPT_V1_UNTIL": "",
    # FHIR intake: the ICD-10 systems of national clinical editions (comma-separated in the
    # environment), their codes preferred to WHO's; the UTC offset given to date-only dateTimes.
    "FHIR_ICD10_NATIONAL_SYSTEMS": "urn:carepath:icd-10-cn",
    "FHIR_DEFAULT_OFFSET": "+08:00",
    # Hospital channels files (os.pathsep-separated; `carepath serve --config` sets it): the
    # WeChat accounts whose delivery callbacks /wechat/<hospital>/<appid>/events accepts.
    "CHANNELS_CONFIG": "",
    # /healthz/pipeline answers 503 once the oldest sendable message has waited longer than this,
    # or the last sweep or dispatch is older (keep it above --sweep-every and --dispatch-every).
    "PIPELINE_MAX_LAG_SECONDS": 600,
    # A scheduler that lost its lock tries to take it back after 1 s, doubling up to this.
    "SCHEDULER_RETRY_MAX_SECONDS": 60,
    "API_TITLE": "carepath",
    "API_VERSION": "v1",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/api",
    "OPENAPI_JSON_PATH": "openapi.json",
    "OPENAPI_SWAGGER_UI_PATH": "docs",
    "OPENAPI_SWAGGER_UI_URL": "/api/docs-static/",  # served from the package: no CDN
    # Swagger UI's default sends the spec's URL to validator.swagger.io for a badge: off.
    "OPENAPI_SWAGGER_UI_CONFIG": {"validatorUrl": None},
    "JSON_SORT_KEYS": False,
}


def _now() -> datetime:
    return datetime.now(UTC)


class CarepathApi(Api):  # type: ignore[misc]
    """flask-smorest's Api with its error answers documented as they are sent: problem+json."""

    ERROR_SCHEMA = ProblemSchema

    def _register_responses(self) -> None:
        # flask-smorest documents every error as application/json with its own Error schema;
        # carepath answers application/problem+json (problems.py), so the spec says that.
        for status in http.HTTPStatus:
            response: dict[str, Any] = {"description": status.phrase}
            if not 100 <= status < 200 and status not in (204, 304):
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, PROBLEM_JSON)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "a problem (RFC 9457) with a stable code", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, PROBLEM_JSON)
        self.spec.components.response(self.DEFAULT_ERROR_RESPONSE_NAME, response, lazy=True)


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    import os

    app = Flask(
        __name__,
        instance_relative_config=True,
        instance_path=os.environ.get("CAREPATH_INSTANCE_PATH"),
        template_folder="common/templates",  # base.html, error.html; each audience adds its own
        static_folder=None,  # every audience's static files: common/assets.py
    )
    from carepath.webapi.auth import patients as patient_sessions
    from carepath.webapi.auth import sessions

    app.config.update(DEFAULTS)
    app.config.update(sessions.DEFAULTS)
    app.config.update(patient_sessions.DEFAULTS)
    app.config["CLOCK"] = _now
    app.config.from_pyfile("carepath.cfg", silent=True)
    app.config.from_prefixed_env("CAREPATH")
    if config:
        app.config.update(config)
    app.json.ensure_ascii = False  # type: ignore[attr-defined]

    from carepath.webapi import h5, health, staff
    from carepath.webapi.api import (
        consents,
        events,
        inbox,
        outbox,
        pathways,
        patients,
        pregnancies,
        responses,
        tasks,
    )
    from carepath.webapi.auth import permissions
    from carepath.webapi.auth import views as auth_views
    from carepath.webapi.common import assets, i18n, problems, text_guard
    from carepath.webapi.fhir import views as fhir
    from carepath.webapi.sms import replies as sms_replies
    from carepath.webapi.staff import admin as staff_admin
    from carepath.webapi.staff import drafts_banner, editor
    from carepath.webapi.staff import on_call as staff_on_call
    from carepath.webapi.staff import teams as staff_teams
    from carepath.webapi.wechat import callbacks as wechat

    app.extensions["carepath.db"] = Database(app.config["DATABASE_URL"])
    app.extensions["carepath.cipher"] = FieldCipher.from_config(
        app.config["FIELD_KEYS"], app.config["LOOKUP_KEY"]
    )
    from carepath.webapi.auth import replay

    replay.init_app(app)  # the nonce store of signed requests

    from carepath.webapi.api import openapi_docs

    # The signing headers, the refusals of a signed request, each event type's data, FHIR.
    api = CarepathApi(
        app,
        spec_kwargs={
            "info": {"description": openapi_docs.DESCRIPTION},
            "extra_plugins": [openapi_docs.SignedApiDocs()],
        },
    )
    api.register_blueprint(events.blp)
    api.register_blueprint(patients.blp)
    api.register_blueprint(tasks.blp)
    api.register_blueprint(inbox.blp)
    api.register_blueprint(responses.blp)
    api.register_blueprint(consents.blp)
    api.register_blueprint(pregnancies.blp)
    api.register_blueprint(pathways.blp)
    api.register_blueprint(outbox.blp)
    app.register_blueprint(health.blp)
    app.register_blueprint(wechat.blp)
    app.register_blueprint(sms_replies.blp)  # the SMS vendors' reply callbacks (issue 19)
    app.register_blueprint(fhir.blp)
    editor.init_app(app)
    problems.init_app(app)  # after Api(app), which registers its own HTTP error handler
    text_guard.init_app(app)  # NUL and lone surrogates: 422 before any view or query
    permissions.init_app(app)  # 404s for ids the caller may not see are counted, then answered
    # Staff pages: cookie sessions and CSRF; the signed API and FHIR carry no cookie.
    signed = [events, patients, tasks, inbox, responses, consents, pregnancies, pathways, outbox]
    sessions.init_app(
        app, exempt=[*(m.blp for m in signed), fhir.blp, health.blp, wechat.blp, sms_replies.blp]
    )
    patient_sessions.init_app(app)  # her pages (/h5/…): her own cookie and session, same CSRF
    i18n.init_app(app)
    drafts_banner.init_app(app)  # every staff page warns while unapproved content is sent
    app.register_blueprint(auth_views.blp)
    app.register_blueprint(staff_admin.blp)
    app.register_blueprint(staff_on_call.blp)  # the page on-call notices link to (issue 17)
    app.register_blueprint(staff_teams.blp)  # /staff/teams: care teams, members, leads (issue 20)
    from carepath.webapi.staff import record as staff_record

    app.register_blueprint(staff_record.blp)  # 患者 and her record (issue 20 item 3)
    from carepath.webapi.staff import record_care as staff_record_care

    app.register_blueprint(staff_record_care.blp)  # her team and responsible doctor, from her record
    from carepath.webapi.staff import desk as staff_desk

    app.register_blueprint(staff_desk.blp)  # 建档登记: registration at the desk (issue 21 item 3)
    from carepath.webapi.staff import workspace as staff_workspace

    app.register_blueprint(staff_workspace.blp)  # 工作台: my tasks and my teams' (issue 20)
    from carepath.webapi.staff import batches as staff_batches

    app.register_blueprint(staff_batches.blp)  # 批量操作: batch actions on a cohort (issue 21 item 4)
    from carepath.webapi.staff import editor_api, editor_preview, editor_review, review_impact

    app.register_blueprint(editor_api.blp)  # the drafts/review JSON API (session + CSRF)
    app.register_blueprint(editor_review.blp)  # the review and history pages
    app.register_blueprint(editor_preview.blp)  # a persona's pregnancy under a library
    review_impact.init_app(app)  # the review page's behaviour diff and cohort impact
    app.register_blueprint(staff.blp)  # the staff pages' templates
    app.register_blueprint(h5.blp)  # her pages: sign-in, home, inbox (and what later issues add)
    from carepath.webapi.h5 import sources as h5_sources

    app.register_blueprint(h5_sources.blp)  # /h5/s/<code>: a source's short URL (issue 18)
    assets.init_app(app, [assets.STATIC, staff.STATIC, h5.STATIC])

    @app.get("/api/docs-static/<path:filename>")
    def swagger_static(filename: str) -> Any:
        import swagger_ui_bundle

        return send_from_directory(swagger_ui_bundle.swagger_ui_path, filename)

    return app
