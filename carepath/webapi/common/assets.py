"""Every audience's static files under one URL: ``/static/<path>`` (the endpoint ``static``).

Each audience keeps its files beside its code (``common/static``, ``staff/static``,
``h5/static``); the app serves them all where they always were, so ``url_for('static', ...)``,
the pages and any bookmark keep their URLs. A path is looked up in the folders in order, and no
two folders may hold the same path: ``init_app`` refuses that at startup, rather than let one
audience's file shadow another's.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from flask import Flask, abort, current_app, send_from_directory
from werkzeug.security import safe_join
from werkzeug.wrappers import Response

URL_PATH = "/static"
#: ``carepath.css`` and ``carepath.js``, which every staff page loads.
STATIC = Path(__file__).resolve().parent / "static"


def files_of(folder: Path) -> set[str]:
    """The paths (``editor/editor.js``) of every file under ``folder``."""
    return {path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file()}


def init_app(app: Flask, folders: Sequence[Path]) -> None:
    """Serve ``folders`` at ``/static/``; a RuntimeError when two of them hold the same path."""
    seen: dict[str, Path] = {}
    for folder in folders:
        for name in files_of(folder):
            if name in seen:
                raise RuntimeError(f"static file {name} is in both {seen[name]} and {folder}")
            seen[name] = folder
    roots = [str(folder) for folder in folders]

    def static(filename: str) -> Response:
        for root in roots:
            path = safe_join(root, filename)  # None for a path that leaves the folder
            if path is not None and os.path.isfile(path):
                max_age = current_app.get_send_file_max_age(filename)
                return send_from_directory(root, filename, max_age=max_age)
        abort(404)

    app.add_url_rule(f"{URL_PATH}/<path:filename>", endpoint="static", view_func=static)
