"""ARCHITECTURE.md: the engine imports nothing of carepath outside itself (and errors), so the
editor's preview and the cohort impact stay pure; rendering for the preview is delivery's."""

from __future__ import annotations

import ast
from pathlib import Path

import carepath.engine

PACKAGE = Path(carepath.engine.__file__).parent


def _carepath_imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return {name for name in names if name.split(".")[0] == "carepath"}


def test_the_engine_imports_only_itself_and_errors() -> None:
    for path in sorted(PACKAGE.rglob("*.py")):
        outside = {
            name
            for name in _carepath_imports(path)
            if not name.startswith("carepath.engine") and name != "carepath.errors"
        }
        assert not outside, f"{path.relative_to(PACKAGE)} imports {sorted(outside)}"


def test_the_preview_modules_do_no_io_of_their_own() -> None:
    for name in ("impact.py", "dependencies.py"):
        source = (PACKAGE / name).read_text(encoding="utf-8")
        for word in ("open(", "datetime.now", "date.today", "time.time", "import sqlalchemy", "import flask"):
            assert word not in source, f"{name}: {word}"
