"""The golden timeline picture: a small library and a persona that never change with the
built-in library. Regenerate with ``python -m tests.webapi.staff.golden_timeline`` after a deliberate
change to the picture, and look at it (render it to PNG) before committing."""

from __future__ import annotations

from pathlib import Path

from carepath.engine.compiler import Unit, compile_units
from carepath.engine.library import Library
from carepath.engine.preview import persona_facts, preview
from carepath.webapi.staff.preview_text import record
from carepath.webapi.staff.timeline_svg import timeline_svg

GOLDEN = Path(__file__).parent / "golden" / "timeline-persona.svg"
PATHWAYS = {
    "school.yaml": """
pathway: school
title: 孕妇学校课程
rules:
  - id: lesson
    every: {interval: 4w, from: {gestational_age: "8+0"}, until: {gestational_age: "41+0"}}
    do: [{push: {content: week-12}}]
""",
    "checkups.yaml": """
pathway: checkups
title: "产检提醒 <script>alert(1)</script>"
rules:
  - id: ogtt
    title: 75g OGTT（24～28周）
    at: {gestational_age: "23+4"}
    when: {not: {visit: ogtt}}
    do: [{remind: {content: visit-4}}]
  - id: follow-up
    at: {gestational_age: "30+0"}
    when: {tag: 瘢痕子宫}
    do:
      - task: {title: 电话随访 & 评估, assign: responsible_nurse}
      - questionnaire: {form: epds}
""",
}
PERSONA = {"ga_today": "10+0", "today": "2026-03-02", "tags": ["瘢痕子宫"], "name": "小雨"}


def golden_svg() -> str:
    result = compile_units([Unit(name, text.encode()) for name, text in PATHWAYS.items()])
    assert result.ok, result.errors
    shown = preview(Library(result.pathways), persona_facts(PERSONA))
    return timeline_svg(shown, title="小雨的孕期时间线", why=record)


if __name__ == "__main__":
    GOLDEN.write_text(golden_svg(), encoding="utf-8")
    print(f"wrote {GOLDEN}")
