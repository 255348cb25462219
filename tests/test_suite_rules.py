"""Rules the test suite keeps so that a busy machine makes it slower, never red: no test asserts
a wall-clock figure (figures are bench/'s), and Hypothesis has no per-example deadline."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from hypothesis import settings

TESTS = Path(__file__).resolve().parent
#: ``time.<clock>()``, or the clock imported by itself (``perf_counter()``); ``datetime.time(9)``
#: and ``datetime.now()`` are dates, which tests rightly compare.
CLOCKS = {"perf_counter", "perf_counter_ns", "monotonic", "monotonic_ns", "time", "time_ns", "process_time"}
IMPORTED_CLOCKS = CLOCKS - {"time", "time_ns"}
#: A constant that names a time to meet (``ROUND_TRIP_TARGET_MS``, ``BUDGET_SECONDS``), which a
#: figure measured elsewhere (in the browser) is compared with.
_TIME_TARGET = re.compile(r"(TARGET|BUDGET).*_(MS|SECONDS)$|_(MS|SECONDS)_(TARGET|BUDGET)$")


def _reads_the_clock(node: ast.AST, timed: set[str]) -> bool:
    """Whether ``node`` calls a clock (``time.perf_counter()``, ``monotonic()``) or uses a name
    that holds a value computed from one."""
    for inner in ast.walk(node):
        if isinstance(inner, ast.Call):
            func = inner.func
            if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
                if func.value.id == "time" and func.attr in CLOCKS:
                    return True
            elif isinstance(func, ast.Name) and func.id in IMPORTED_CLOCKS:
                return True
        if isinstance(inner, ast.Name) and (inner.id in timed or _TIME_TARGET.search(inner.id)):
            return True
    return False


def wall_clock_asserts(source: str) -> list[int]:
    """Lines of ``assert`` statements that compare a figure read from a clock."""
    tree = ast.parse(source)
    timed: set[str] = set()
    for _ in range(3):  # names computed from names computed from a clock
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                if node.value is not None and _reads_the_clock(node.value, timed):
                    timed |= {t.id for t in targets if isinstance(t, ast.Name)}
            if (  # timings.append(time.perf_counter() - started)
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("append", "extend")
                and isinstance(node.func.value, ast.Name)
                and any(_reads_the_clock(arg, timed) for arg in node.args)
            ):
                timed.add(node.func.value.id)
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Assert) and _reads_the_clock(node.test, timed)
    ]


def test_no_test_asserts_a_wall_clock_figure() -> None:
    found = {
        f"{path.relative_to(TESTS)}:{line}"
        for path in sorted(TESTS.rglob("*.py"))
        for line in wall_clock_asserts(path.read_text(encoding="utf-8"))
    }
    assert found == set(), "move these figures to bench/ and assert behaviour"


def test_the_rule_finds_a_timed_assert_however_it_is_written() -> None:
    assert wall_clock_asserts(
        "started = time.perf_counter()\nassert time.perf_counter() - started < 1\n"
    ) == [2]
    assert wall_clock_asserts("s = monotonic()\nwaited = monotonic() - s\nassert 0.05 < waited < 0.5\n") == [
        3
    ]
    timings = "t = []\nfor _ in r:\n    s = time.perf_counter()\n    t.append(time.perf_counter() - s)\n"
    assert wall_clock_asserts(timings + "best = min(t)\nassert best < 250\n") == [6]
    assert wall_clock_asserts("page.wait_for_function(js, timeout=30)\nassert found == [1]\n") == []
    assert wall_clock_asserts("t = page.evaluate('roundTrip')\nassert t <= ROUND_TRIP_TARGET_MS\n") == [2]
    assert wall_clock_asserts("at = time(9, 0)\nassert hold.until == at\n") == []


def test_hypothesis_examples_have_no_deadline() -> None:
    assert settings.default.deadline is None
