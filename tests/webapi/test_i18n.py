"""The Chinese catalogue is complete and its committed .mo is what the .po compiles to."""

from __future__ import annotations

import io

from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from tests.conftest import ROOT

CATALOGUE = ROOT / "carepath" / "webapi" / "common" / "translations" / "zh_Hans_CN" / "LC_MESSAGES"
KEYWORDS = {"_": None, "gettext": None, "lazy_gettext": None, "label": None}


def _po() -> dict[str, str]:
    with (CATALOGUE / "messages.po").open("rb") as f:
        return {m.id: m.string for m in read_po(f) if m.id and not m.fuzzy}


def _extracted() -> set[str]:
    found: set[str] = set()
    methods = [("carepath/webapi/**.py", "python"), ("carepath/store/roles.py", "python")]
    methods.append(("carepath/webapi/**/templates/**.html", "jinja2"))
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map=methods, keywords=KEYWORDS
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


def test_every_message_of_the_ui_has_a_chinese_translation() -> None:
    catalogue = _po()
    missing = sorted(m for m in _extracted() if not catalogue.get(m))
    assert missing == [], f"untranslated (run `make translations` and fill in msgstr): {missing}"


def test_committed_mo_matches_the_po() -> None:
    with (CATALOGUE / "messages.mo").open("rb") as f:
        compiled = {(m.context, m.id): m.string for m in read_mo(io.BytesIO(f.read())) if m.id}
    with (CATALOGUE / "messages.po").open("rb") as f:
        # by context too: the diagnostics' sentences are keyed by their catalogue key
        written = {(m.context, m.id): m.string for m in read_po(f) if m.id and not m.fuzzy}
    assert compiled == written, "messages.mo is stale: run `make translations`"


def test_no_cdn_in_templates_or_static() -> None:
    web = ROOT / "carepath" / "webapi"
    static = [path for path in web.glob("*/static/**/*") if path.is_file()]
    for path in [*web.glob("*/templates/**/*.html"), *static]:
        # XML namespace names (CodeMirror draws SVG) are identifiers, never fetched
        text = path.read_text(encoding="utf-8").replace("http://www.w3.org/", "")
        assert "http://" not in text and "https://" not in text and "//cdn" not in text, path
