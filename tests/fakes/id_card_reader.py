"""A fake ID card reader service, as runs on the desk PC beside a reader (issue 21 item 3).

A real loopback HTTP server on a free port: ``GET`` (any path) answers the card on the reader
as JSON, with CORS allowed for any origin (the desk page's script asks it from the carepath
origin, as it asks the real service); ``OPTIONS`` answers a preflight. ``card`` is what it
answers (the generic format of ``staff/id_card.py`` by default), ``status`` its HTTP status
(a reader with no card on it answers an error), ``requests`` counts the reads. Made-up data.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any


class FakeCardReader:
    def __init__(self, card: dict[str, Any] | None = None) -> None:
        self.card: dict[str, Any] = card or {}
        self.status = 200
        self.requests = 0
        reader = self

        class Handler(BaseHTTPRequestHandler):
            def _cors(self) -> None:
                self.send_header("Access-Control-Allow-Origin", "*")
                self.send_header("Access-Control-Allow-Methods", "GET, OPTIONS")
                self.send_header("Access-Control-Allow-Headers", "*")

            def do_OPTIONS(self) -> None:
                self.send_response(204)
                self._cors()
                self.end_headers()

            def do_GET(self) -> None:
                reader.requests += 1
                body = json.dumps(reader.card, ensure_ascii=False).encode("utf-8")
                self.send_response(reader.status)
                self._cors()
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, name="fake-card-reader", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/api/readcard"

    def __enter__(self) -> FakeCardReader:
        self.thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
