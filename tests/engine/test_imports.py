"""ARCHITECTURE.md: the engine imports nothing of carepath outside itself (and errors), so the
editor's preview and the cohort impact stay pure; rendering for the preview is delivery's, and
the engine returns data, never HTML or SVG (the pages that show it draw it: the preview's
timeline is ``webapi/staff/timeline_svg.py``)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import carepath.engine

PACKAGE = Path(carepath.engine.__file__).parent
#: A tag of HTML or SVG in a string: ``<svg``, ``<div class=``, ``</text>`` (``<pathway>`` is a
#: placeholder, not a tag).
MARKUP = re.compile(
    r"</?(svg|html|body|head|meta|link|div|span|p|br|a|img|table|tr|td|th|ul|ol|li|h[1-6]|em|strong|"
    r"section|script|style|title|g|rect|circle|ellipse|line|polyline|polygon|path|text|tspan)[\s/>]",
    re.IGNORECASE,
)
#: Modules that escape or build markup.
MARKUP_MODULES = ("html", "markupsafe", "xml.sax.saxutils", "xml.dom", "xml.etree")


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


def _strings(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, text) of every string literal (f-strings' literal parts too), docstrings aside."""
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    ]


def markup_in(source: str) -> list[str]:
    """Where a module builds HTML or SVG: a tag in a string, or a markup module imported."""
    tree = ast.parse(source)
    found = [
        f"line {line}: {MARKUP.search(text)[0]!r}" for line, text in _strings(tree) if MARKUP.search(text)
    ]
    for node in ast.walk(tree):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module]
        found += [
            f"line {node.lineno}: imports {name}"
            for name in names
            if any(name == m or name.startswith(f"{m}.") for m in MARKUP_MODULES)
        ]
    return found


def test_the_engine_returns_data_and_draws_no_html_or_svg() -> None:
    for path in sorted(PACKAGE.rglob("*.py")):
        found = markup_in(path.read_text(encoding="utf-8"))
        assert not found, f"{path.relative_to(PACKAGE)} builds markup: {found}"


def test_the_markup_check_finds_a_drawing_module() -> None:
    drawing = (PACKAGE.parent / "webapi" / "staff" / "timeline_svg.py").read_text(encoding="utf-8")
    assert markup_in(drawing)
    assert markup_in('PAGE = f"<div class={name!r}>{text}</div>"')
    assert markup_in("from html import escape")
    assert not markup_in('"""Draws no <svg>."""\nPATH = "<pathway>"\nWHERE = f"<persona {name}>"')
