"""ARCHITECTURE.md: the web app is one package per audience (``api``, ``fhir``, ``wechat``,
``sms``, ``staff``, ``h5``) that share only ``common`` and ``auth``. An audience never imports another;
``auth`` imports only ``common``; ``common`` imports no audience and not ``auth``; none of them
imports the app factory (``carepath/webapi/__init__.py``), which imports them all. Every import
counts, those inside functions and under ``TYPE_CHECKING`` too."""

from __future__ import annotations

import ast
from pathlib import Path

import carepath.webapi

WEBAPI = Path(carepath.webapi.__file__).parent
CAREPATH = WEBAPI.parent
AUDIENCES = frozenset({"api", "fhir", "wechat", "sms", "staff", "h5"})
#: package -> the webapi packages it may import ("" is the factory, carepath/webapi/__init__.py)
MAY_IMPORT = {
    **{audience: {audience, "common", "auth"} for audience in AUDIENCES},
    "auth": {"auth", "common"},
    "common": {"common"},
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(CAREPATH.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(name: str) -> bool:
    path = CAREPATH.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import in the file (``imports_of``)."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    return imports_of(path.read_text(encoding="utf-8"), package)


def imports_of(source: str, package: str) -> list[tuple[int, str]]:
    """(line, module) of every import of ``source``, a module of ``package``: ``from a import b``
    names ``a.b`` when that is a module, else ``a``; relative imports are resolved."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                anchor = parts[: len(parts) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.append((node.lineno, candidate if _is_module(candidate) else base))
    return found


def _package_of(module: str) -> str | None:
    """The webapi package a module belongs to ("" for the factory), None outside webapi."""
    parts = module.split(".")
    if parts[:2] != ["carepath", "webapi"]:
        return None
    return parts[2] if len(parts) > 2 else ""


def violations(root: Path = WEBAPI) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        source = _package_of(_module_name(path))
        if source not in MAY_IMPORT:  # the factory and health.py (operations) may import anything
            continue
        for line, module in imported_modules(path):
            target = _package_of(module)
            if target is not None and target not in MAY_IMPORT[source]:
                found.append(f"{path.relative_to(CAREPATH.parent)}:{line} ({source}) imports {module}")
    return found


def test_audiences_share_only_common_and_auth() -> None:
    assert violations() == []


def test_the_check_sees_imports_inside_functions_and_relative_ones() -> None:
    factory = {module for _, module in imported_modules(WEBAPI / "__init__.py")}  # inside create_app
    assert {"carepath.webapi.staff.admin", "carepath.webapi.fhir.views", "carepath.webapi.h5"} <= factory
    source = """
def view():
    from ..fhir import views
    from . import editor_api
    from .editor.diagnostics import diagnose
"""
    assert [module for _, module in imports_of(source, "carepath.webapi.staff")] == [
        "carepath.webapi.fhir.views",
        "carepath.webapi.staff.editor_api",
        "carepath.webapi.staff.editor.diagnostics",
    ]
