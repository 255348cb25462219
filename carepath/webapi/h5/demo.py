"""``/h5/demo/sign-in/<token>``: the demo's way into her pages without a phone or WeChat.

Only in a demo instance: ``carepath demo setup`` writes ``DEMO_INSTANCE = True`` into the
instance's ``carepath.cfg`` (beside its generated keys) and prints this URL for a synthetic
demo patient. Anywhere else (``DEMO_INSTANCE`` unset, as in every production configuration)
the route answers 404; and even in a demo it signs in only patients of the demo hospital
(``store/demo.py``'s ``DEMO_HOSPITAL``). The token is signed with ``SECRET_KEY`` (its own salt),
so nobody can make one for another patient.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, redirect, url_for
from itsdangerous import BadSignature, URLSafeSerializer

from carepath.store.demo import DEMO_HOSPITAL
from carepath.webapi.auth import patients
from carepath.webapi.h5 import blp
from carepath.webapi.h5.signin import message

SALT = "carepath-h5-demo-sign-in"


def demo_token(secret_key: str, patient_id: int, hospital_id: str = DEMO_HOSPITAL) -> str:
    return str(
        URLSafeSerializer(secret_key, salt=SALT).dumps({"patient": patient_id, "hospital": hospital_id})
    )


@blp.get("/h5/demo/sign-in/<token>")
def demo_sign_in(token: str) -> Any:
    refused = message("演示登录不可用", "演示登录只在演示环境中可用。", 404)
    if current_app.config.get("DEMO_INSTANCE") is not True:
        return refused
    try:
        found = URLSafeSerializer(current_app.secret_key, salt=SALT).loads(token)  # type: ignore[arg-type]
    except BadSignature:
        return refused
    if not isinstance(found, dict) or found.get("hospital") != DEMO_HOSPITAL:
        return refused
    try:
        patients.sign_in_patient(int(found["patient"]), DEMO_HOSPITAL, "demo")
    except (KeyError, TypeError, ValueError):  # no such demo patient (the database was reset)
        return refused
    return redirect(url_for("h5.home"))
