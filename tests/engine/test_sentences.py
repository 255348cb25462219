"""The message catalogue is complete: every code the compiler, the lint and the preview can emit
(found in their sources and the schemas) has its meaning, every sentence they say has its
Chinese, a translation names only the values its English names, and the English of every
problem is the sentence its text renders to."""

from __future__ import annotations

import ast
import json
import string
from pathlib import Path

import pytest
import yaml
from babel.messages.pofile import read_po

import carepath.engine
from carepath.engine import messages
from carepath.engine.compiler import compile_text
from carepath.engine.content_lint import lint_text
from carepath.engine.preview import persona_facts
from carepath.engine.sentences import CODE_TITLES, HINTS, SENTENCES
from carepath.errors import CompileError, Problem, Text
from carepath.webapi.common.diagnostics_text import translator
from carepath.webapi.staff import preview_text, review_text
from carepath.webapi.staff.editor import diagnostics
from tests.conftest import ROOT

ENGINE = Path(carepath.engine.__file__).parent
PO = ROOT / "carepath" / "webapi" / "common" / "translations" / "zh_Hans_CN" / "LC_MESSAGES" / "messages.po"
SCHEMAS = ROOT / "carepath" / "schemas"
#: Every table of sentences and where it lives (the pages keep theirs beside the engine's).
TABLES = {
    "engine/sentences.py": SENTENCES,
    "webapi/staff/preview_text.py": preview_text.SENTENCES,
    "webapi/editor/diagnostics.py": diagnostics.HINTS,
    "webapi/staff/review_text.py": review_text.SENTENCES,
}
#: Calls that emit a problem, and the position of their code argument.
EMITTERS = {
    "error": 1,
    "warning": 1,
    "problem": 1,
    "Problem": 1,
    "_LoadAbortedError": 1,
    "_problem": 1,
    "_dating": 0,
}
SAYERS = ("say", "_say", "say_hint", "_said", "Text")


def _calls(path: Path) -> list[ast.Call]:
    return [
        node for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))) if isinstance(node, ast.Call)
    ]


def _name(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def _literal(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _code_of(node: ast.AST) -> str | None:
    """The code a node writes where a problem is made, if it is one of those places."""
    if isinstance(node, ast.Call) and _name(node) in EMITTERS:
        at = EMITTERS[_name(node)]
        return _literal(node.args[at]) if len(node.args) > at else None
    # (path, code, text) findings: check_form's and the schema pass's
    said = (*SAYERS, "_with_hint", "jsonschema_words")
    if isinstance(node, ast.Tuple) and len(node.elts) >= 3 and isinstance(node.elts[2], ast.Call):
        return _literal(node.elts[1]) if _name(node.elts[2]) in said else None
    # schema.get("x-code", "bad-value"): the schema pass's default codes
    if isinstance(node, ast.Call) and _name(node) == "get" and len(node.args) == 2:
        return _literal(node.args[1]) if _literal(node.args[0]) in ("x-code", "x-unknown-key-code") else None
    return None


def emitted_codes() -> set[str]:
    """Codes as the sources write them where a problem is made, and the schemas' codes."""
    codes: set[str] = set()
    for path in [*sorted(ENGINE.rglob("*.py")), ROOT / "carepath/store/library_files.py"]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (code := _code_of(node)) is not None:
                codes.add(code)

    def walk(value: object) -> None:
        if isinstance(value, dict):
            for key, child in value.items():
                if key in ("x-code", "x-unknown-key-code"):
                    codes.add(str(child))
                walk(child)
        elif isinstance(value, list):
            for child in value:
                walk(child)

    for schema in SCHEMAS.glob("*.schema.json"):
        walk(json.loads(schema.read_text(encoding="utf-8")))
    return codes


def said_keys() -> tuple[set[str], set[str]]:
    """Sentence keys written as literals, and the prefixes of those built with an f-string."""
    literal: set[str] = set()
    prefixes: set[str] = set()
    sources = [
        *ENGINE.rglob("*.py"),
        ROOT / "carepath/webapi/staff/preview_text.py",
        ROOT / "carepath/webapi/staff/editor/diagnostics.py",
        ROOT / "carepath/webapi/staff/review_text.py",
    ]
    for path in sources:
        for call in _calls(path):
            if _name(call) in SAYERS and call.args:
                first = call.args[0]
                if (key := _literal(first)) is not None:
                    literal.add(key)
                elif isinstance(first, ast.JoinedStr) and (head := _literal(first.values[0])):
                    prefixes.add(head)
    return literal, prefixes


def _po() -> dict[tuple[str | None, str], str]:
    with PO.open("rb") as handle:
        return {(m.context, m.id): m.string for m in read_po(handle) if m.id and not m.fuzzy}


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_the_scan_finds_the_codes_it_should() -> None:
    codes = emitted_codes()
    # one of each way a code is written: a loader abort, a compiler error, a warning, check_form,
    # a dating error, the schema pass's default, a schema's x-code, the preview's persona
    expected = {
        "too-deep",
        "bad-duration",
        "possible-loop",
        "bad-band",
        "bad-embryo-day",
        "unknown-key",
        "trigger-count",
        "no-dating",
    }
    assert expected <= codes


def test_every_code_has_its_meaning_in_english_and_chinese() -> None:
    codes = emitted_codes()
    po = _po()
    assert sorted(codes - set(CODE_TITLES)) == [], "add the code to CODE_TITLES in engine/sentences.py"
    untranslated = sorted(code for code, title in CODE_TITLES.items() if not po.get((code, title)))
    assert untranslated == [], "run `make translations` and write the Chinese in messages.po"


def test_every_sentence_said_is_in_a_table() -> None:
    literal, prefixes = said_keys()
    known = {key for table in TABLES.values() for key in table}
    assert sorted(literal - known) == []
    for prefix in prefixes:
        assert any(key.startswith(prefix) for key in known), prefix


@pytest.mark.parametrize("table", TABLES, ids=list(TABLES))
def test_every_sentence_has_chinese_that_names_only_its_values(table: str) -> None:
    po = _po()
    missing, wrong = [], []
    for key, english in TABLES[table].items():
        chinese = po.get((key, english))
        if not chinese:
            missing.append(key)
        elif not _fields(chinese) <= _fields(english):
            wrong.append(key)
    assert missing == [], "run `make translations` and write the Chinese in messages.po"
    assert wrong == [], "a translation names a value its English does not"


def test_every_schema_hint_is_in_the_catalogue() -> None:
    hints: set[str] = set()

    def walk(value: object) -> None:
        if isinstance(value, dict):
            if value.get("x-hint"):
                hints.add(str(value["x-hint"]))
            for child in value.values():
                walk(child)
        elif isinstance(value, list):
            for child in value:
                walk(child)

    for schema in SCHEMAS.glob("*.schema.json"):
        walk(json.loads(schema.read_text(encoding="utf-8")))
    assert sorted(hints - set(HINTS)) == []
    assert all(messages.english(Text(HINTS[hint])) == hint for hint in hints)


def _case_problems() -> list[Problem]:
    cases = yaml.safe_load((ROOT / "tests/cases/compile/structure.yaml").read_text(encoding="utf-8"))
    found = [p for case in cases for p in compile_text(case["pathway"], "case.yaml").problems]
    for name in ("anaemia.md", "gdm.md"):
        text = (ROOT / "carepath/content" / name).read_text(encoding="utf-8")
        broken = text.replace("sources:", "sourcez:", 1).replace("](content:", "](content:nope-", 1)
        found += lint_text(broken, name, "content") + lint_text("---\nkey: [\n---\n", name, "content")
    found += lint_text("form: x\ntitle: [1, 2\n", "x.yaml", "form") + lint_text("form: x\n", "x.yaml", "form")
    for persona in ({"ga_today": "12+3"}, {"ga_today": "53+0", "today": "2026-03-02"}, {"lmp": "2026-02-30"}):
        with pytest.raises(CompileError) as caught:
            persona_facts(persona)
        found += caught.value.problems
    return found


def test_every_problem_of_the_goldens_is_a_catalogue_sentence_rendered_in_english_and_chinese() -> None:
    found = _case_problems()
    assert len(found) > 60 and len({p.code for p in found}) > 20
    chinese = translator("zh")
    fields = {name for table in TABLES.values() for english in table.values() for name in _fields(english)}
    placeholders = [f"{{{name}{end}" for name in fields for end in "}!:"]
    for problem in found:
        assert problem.text is not None, str(problem)
        assert messages.english(problem.text) == problem.message
        assert messages.render_line(problem) == str(problem)
        rendered = messages.render(problem, chinese)
        assert rendered and not any(placeholder in rendered for placeholder in placeholders), rendered
    translated = [p for p in found if messages.render(p, chinese) != p.message]
    assert len(translated) > 0.9 * len(found)
