"""The preview's timeline picture (``webapi/staff/timeline_svg.py``): escaped, deterministic, by
gestational week. Moved from ``tests/engine/test_preview.py`` with the module it tests."""

import re
import xml.etree.ElementTree as ET

import pytest

from carepath.engine.compiler import Unit, compile_units
from carepath.engine.library import Library
from carepath.engine.preview import demo_persona, persona_facts, preview
from carepath.webapi.staff.timeline_svg import FIRST_WEEK, LABEL_WIDTH, WEEK_WIDTH, timeline_svg
from tests.engine.test_preview import LIBRARY, ROOT

SVG = "{http://www.w3.org/2000/svg}"


HOSTILE = """
pathway: hostile
title: "<script>alert('x')</script> 标题 & more"
rules:
  - id: r1
    title: "<img src=x onerror=alert(1)>"
    at: {gestational_age: "20+0"}
    do: [{task: {title: "</title><script>alert(2)</script>", assign: school}}]
"""


def test_every_text_in_the_picture_is_inert():
    lib = Library(compile_units([Unit("h.yaml", HOSTILE.encode())]).pathways)
    facts = persona_facts({"ga_today": "10+0", "today": "2026-03-02"})
    svg = timeline_svg(preview(lib, facts), title="<script>alert(3)</script>")
    root = ET.fromstring(svg)  # well-formed: nothing broke out of its element
    assert not list(root.iter(f"{SVG}script"))
    assert "<script" not in svg and "<img" not in svg and "onerror=alert(1)>" not in svg
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in svg
    texts = " ".join(t.text or "" for t in root.iter(f"{SVG}title"))
    assert "<script>alert('x')</script> 标题 & more" in texts and "</title><script>alert(2)</script>" in texts


def test_marks_sit_at_their_gestational_week_in_their_pathway_lane():
    facts, events = demo_persona(ROOT / "examples/patients/demo-001.yaml")
    shown = preview(LIBRARY, facts, events)
    root = ET.fromstring(timeline_svg(shown))
    marks = [g for g in root.iter(f"{SVG}g") if g.get("class") == "mark"]
    assert len(marks) == len(shown.items)
    index = next(n for n, i in enumerate(shown.items) if i.row.rule == "ogtt")
    mark = next(g for g in marks if g.get("data-index") == str(index))
    shape = next(iter(mark.iter(f"{SVG}polygon")))  # a reminder is a diamond
    xs = [float(p.split(",")[0]) for p in shape.get("points").split()]
    centre = (min(xs) + max(xs)) / 2
    assert centre == pytest.approx(LABEL_WIDTH + (23 + 4 / 7 - FIRST_WEEK) * WEEK_WIDTH, abs=0.2)
    tooltip = mark.find(f"{SVG}title").text
    assert tooltip.startswith("23+4 · ") and "checkup-schedule/ogtt fired: at GA 23+4" in tooltip
    lanes = [t.text for t in root.iter(f"{SVG}text") if t.get("x") == "8"]
    assert "产检提醒" in lanes


def test_the_picture_is_deterministic():
    facts, events = demo_persona(ROOT / "examples/patients/demo-002.yaml")
    first = timeline_svg(preview(LIBRARY, facts, events))
    second = timeline_svg(preview(LIBRARY, facts, events))
    assert first == second
    assert re.search(r'width="\d+(\.\d)?"', first)


def test_the_picture_matches_the_golden_file_checked_by_eye():
    from tests.webapi.staff.golden_timeline import GOLDEN, golden_svg

    assert golden_svg() == GOLDEN.read_text(encoding="utf-8"), (
        "the timeline picture changed: run `python -m tests.webapi.staff.golden_timeline`, render it and look"
    )


def test_the_picture_does_no_io_of_its_own() -> None:
    """Moved with the module from ``tests/engine/test_imports.py``: same preview, same bytes."""
    source = (ROOT / "carepath/webapi/staff/timeline_svg.py").read_text(encoding="utf-8")
    for word in ("open(", "datetime.now", "date.today", "time.time", "import sqlalchemy", "import flask"):
        assert word not in source, f"timeline_svg.py: {word}"
