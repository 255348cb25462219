"""Editor diagnostics benchmark: the server side of compile-as-you-type.

Prints the time ``diagnose`` takes (what ``POST /editor/api/compile`` runs) for a pathway of
100, 300 and 1,000 lines, clean and with one error, plus a content item and a form; and
the YAML load alone with libyaml and with PyYAML's pure-Python parser, since the loader
uses the first. The browser round trip (keystroke to underlined error, 300 lines) is
measured and printed by ``bench/editor_browser.py``.

    .venv/bin/python bench/editor.py [--repeat 20]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from carepath.webapi.staff.editor.diagnostics import diagnose  # noqa: E402
from tests.webapi.editor.long_pathway import long_pathway  # noqa: E402


def timed(run: Callable[[], object], repeat: int) -> tuple[float, float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), max(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    repeat = parser.parse_args().repeat
    diagnose("pathway", long_pathway(50))  # the catalogue is read once per process
    print(f"{'what':<44} {'median ms':>10} {'max ms':>8}")
    for lines in (100, 300, 1000):
        text = long_pathway(lines)
        broken = text.replace("from: {gestational_age", "from: {gestational_agee", 1)
        for label, buffer in (("clean", text), ("one error", broken)):
            median, worst = timed(lambda b=buffer: diagnose("pathway", b), repeat)
            print(f"{f'pathway, {lines} lines, {label}':<44} {median:>10.1f} {worst:>8.1f}")
        if lines == 300:
            for name, loader in (("libyaml", yaml.CSafeLoader), ("pure Python", yaml.SafeLoader)):
                median, worst = timed(lambda lo=loader, t=text: list(yaml.parse(t, Loader=lo)), repeat)
                print(f"{f'  YAML events only, {name}':<44} {median:>10.1f} {worst:>8.1f}")
    item = (ROOT / "carepath" / "content" / "week-24.md").read_text(encoding="utf-8")
    form = (ROOT / "carepath" / "forms" / "epds.yaml").read_text(encoding="utf-8")
    for label, kind, buffer, name in (
        ("content item week-24.md", "content", item, "week-24.md"),
        ("form epds.yaml", "form", form, "epds.yaml"),
    ):
        diagnose(kind, buffer, name)
        median, worst = timed(lambda k=kind, b=buffer, n=name: diagnose(k, b, n), repeat)
        print(f"{label:<44} {median:>10.1f} {worst:>8.1f}")


if __name__ == "__main__":
    main()
