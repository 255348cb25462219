"""Post one signed HIS event to carepath (standard library only; copy it into your HIS).

python examples/post_event.py --key instance/demo-key.json [--url http://127.0.0.1:8000]
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import secrets
import time
import urllib.error
import urllib.request
import uuid
from datetime import datetime, timedelta, timezone


def signed_headers(key_id: str, secret: str, method: str, path: str, body: bytes) -> dict[str, str]:
    """Scheme V2; call it for every request, a retry too: each needs a new nonce."""
    timestamp = str(int(time.time()))
    nonce = secrets.token_urlsafe(24)  # 32 of A-Z a-z 0-9 _ -, never reused
    body_sha256 = hashlib.sha256(body).hexdigest()
    canonical = "\n".join(["CAREPATH-HMAC-SHA256-V2", method, path, timestamp, key_id, body_sha256, nonce])
    signature = hmac.new(secret.encode(), canonical.encode(), hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/json",
        "X-Carepath-Key": key_id,
        "X-Carepath-Timestamp": timestamp,
        "X-Carepath-Content-SHA256": body_sha256,
        "X-Carepath-Nonce": nonce,
        "X-Carepath-Signature": signature,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--key", required=True, help="JSON file with key_id and secret")
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    args = parser.parse_args()
    with open(args.key, encoding="utf-8") as f:
        key = json.load(f)
    event = {
        "id": f"his-{uuid.uuid4().hex[:12]}",
        "type": "diagnosis.added",
        "occurred_at": datetime.now(timezone(timedelta(hours=8))).isoformat(timespec="seconds"),
        "patient": {"his_id": "demo-001"},
        "data": {"code": "O24.401", "name": "妊娠期糖尿病"},
    }
    body = json.dumps(event, ensure_ascii=False).encode("utf-8")
    path = "/api/v1/events"
    request = urllib.request.Request(
        args.url + path, data=body, method="POST",
        headers=signed_headers(key["key_id"], key["secret"], "POST", path, body),
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request) as response:
            print(response.status, json.dumps(json.load(response), ensure_ascii=False, indent=2))
    except urllib.error.HTTPError as error:
        print(error.code, error.read().decode("utf-8"))


if __name__ == "__main__":
    main()
