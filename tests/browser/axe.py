"""Accessibility and page-weight checks for the browser tests (issue 19's quality rules).

- ``serious_violations(page)``: injects the vendored axe-core (``vendor/axe-core/axe.min.js``,
  test-only, never served by the app) into a Playwright page, runs it on the whole document
  and returns the violations whose impact is ``serious`` or ``critical`` (labels, AA contrast,
  names of links and buttons…), each as axe reports it (``id``, ``impact``, ``help``, ``nodes``).
- ``first_load_bytes(page, path)``: opens ``path`` in the page and returns the bytes transferred
  for it (the document and every resource it loads: headers and bodies as sent), fonts aside;
  her pages must stay ≤ ``PAGE_BUDGET`` (150 KB) on first load.
- ``describe(violations)``: a short text of violations for an assertion's message.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

AXE_SCRIPT = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
SERIOUS = ("serious", "critical")
#: Her pages' budget for a first load (issue 19): 150 KB, fonts aside.
PAGE_BUDGET = 150 * 1024


@functools.cache
def _axe_source() -> str:
    return AXE_SCRIPT.read_text(encoding="utf-8")


def serious_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it is now."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        # evaluated through the DevTools protocol, not as a <script>: the pages' CSP
        # (script-src 'self') would refuse an inline tag, and the app must not relax it for tests
        page.evaluate(_axe_source() + "\n;undefined")
    result = page.evaluate(
        "async () => { const r = await axe.run(document, {resultTypes: ['violations']});"
        " return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.map(n => ({target: n.target, summary: n.failureSummary}))})); }"
    )
    return [violation for violation in result if violation.get("impact") in SERIOUS]


def describe(violations: list[dict[str, Any]]) -> str:
    lines = []
    for violation in violations:
        targets = ", ".join(str(node["target"]) for node in violation["nodes"][:3])
        lines.append(f"{violation['impact']} {violation['id']}: {violation['help']} ({targets})")
    return "\n".join(lines)


def first_load_bytes(page: Any, path: str) -> int:
    """Bytes transferred to load ``path`` in a page with an empty cache, fonts aside: each
    finished response's headers and body as sent on the wire (compressed if it was)."""
    finished: list[Any] = []

    def keep(request: Any) -> None:
        finished.append(request)

    page.on("requestfinished", keep)
    try:
        page.goto(path, wait_until="load")
        page.wait_for_load_state("networkidle")
    finally:
        page.remove_listener("requestfinished", keep)
    total = 0
    for request in finished:
        if request.resource_type == "font":
            continue
        sizes = request.sizes()
        total += sizes["responseHeadersSize"] + sizes["responseBodySize"]
    return total
