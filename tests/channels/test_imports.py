"""ARCHITECTURE.md's import rule: a channel imports only ``channels/base.py`` (and errors)."""

from __future__ import annotations

import ast
from pathlib import Path

import carepath.channels

PACKAGE = Path(carepath.channels.__file__).parent
#: Modules of the package that are not channels: they assemble or serve them.
NOT_CHANNELS = {"__init__.py", "base.py", "registry.py"}
ALLOWED = {"carepath.channels.base", "carepath.errors", "carepath.signing"}


def _carepath_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return {name for name in names if name.split(".")[0] == "carepath"}


def test_channels_import_only_base_and_errors() -> None:
    for path in sorted(PACKAGE.glob("*.py")):
        if path.name not in NOT_CHANNELS:
            assert _carepath_imports(path) <= ALLOWED, path.name


def test_base_imports_nothing_of_carepath_but_errors() -> None:
    assert _carepath_imports(PACKAGE / "base.py") <= {"carepath.errors"}


def test_the_policy_does_no_io() -> None:
    path = Path(carepath.channels.__file__).parents[1] / "delivery" / "policy.py"
    imports = _carepath_imports(path)
    assert imports <= {"carepath.engine.timing"}
    source = path.read_text(encoding="utf-8")
    for word in ("import httpx", "import sqlalchemy", "open(", "datetime.now", "time.time"):
        assert word not in source
