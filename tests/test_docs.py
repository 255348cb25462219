"""The documentation holds together: the README stays a five-minute read that links to every
page of docs/, every relative link in them reaches a file (and a heading, for ``#anchor``), every
repository path they name exists, and no file sends a reader to the team's design documents,
which were never in the repository."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"

#: ``[text](target)`` and ``![alt](target)``, with an optional "title".
LINK = re.compile(r"\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^\s*(```|~~~)")
CODE_SPAN = re.compile(r"`[^`]*`")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
#: The team's design documents that live outside the repository; their content is now in docs/.
DESIGN_DOCUMENT = re.compile(r"(?<![\w-])(DSL|DOMAIN|PRIVACY|CHANNELS|DURABLE-RULES)\.md\b")
#: The team's shared folder and the hospital's requirements file, outside the repository too
#: (written in two pieces so that this line does not name them).
OUTSIDE_FILE = re.compile("/" + "work/shared/|SEED" + "-requirements")
#: A file of the repository named in a code span: `carepath/store/scope.py`, `bench/api.py`.
PATH_SPAN = re.compile(r"`((?:carepath|tests|bench|examples|frontend|docs)/[^`\s]*)`")
#: A docs page may say which design document it began as; nothing else may name one.
PROVENANCE = re.compile(r"began as the team's (DSL|DOMAIN|PRIVACY|CHANNELS|DURABLE-RULES)\.md")


def pages() -> list[Path]:
    return [README, ROOT / "ARCHITECTURE.md", *sorted(DOCS.glob("*.md"))]


def prose_lines(text: str) -> list[tuple[int, str]]:
    """Lines outside fenced code blocks, with inline code spans blanked out."""
    lines = []
    fenced = False
    for number, line in enumerate(text.splitlines(), 1):
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            lines.append((number, CODE_SPAN.sub("``", line)))
    return lines


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: its text, lower case, punctuation dropped, spaces to '-'."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link shows its text
    text = text.replace("`", "").replace("*", "").lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    found: set[str] = set()
    seen: dict[str, int] = {}
    fenced = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if FENCE.match(line):
            fenced = not fenced
            continue
        match = HEADING.match(line)
        if fenced or not match:
            continue
        base = slug(match.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def broken_links(path: Path) -> list[str]:
    problems = []
    for number, line in prose_lines(path.read_text(encoding="utf-8")):
        for target in LINK.findall(line):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto: ...
                continue
            file_part, _, anchor = target.partition("#")
            linked = (path.parent / file_part).resolve() if file_part else path
            where = f"{path.relative_to(ROOT)}:{number}: {target}"
            if not linked.exists():
                problems.append(f"{where}: no such file")
            elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
                problems.append(f"{where}: no heading with that anchor")
    return problems


def test_the_readme_is_a_five_minute_read() -> None:
    lines = README.read_text(encoding="utf-8").count("\n")
    assert lines < 200, f"README.md has {lines} lines; move reference material to docs/"


def test_every_relative_link_reaches_a_file_and_its_heading() -> None:
    problems = [problem for page in pages() for problem in broken_links(page)]
    assert problems == []


def test_the_readme_links_to_every_docs_page() -> None:
    linked = {
        (README.parent / target.partition("#")[0]).resolve()
        for _, line in prose_lines(README.read_text(encoding="utf-8"))
        for target in LINK.findall(line)
    }
    assert [p.name for p in sorted(DOCS.glob("*.md")) if p.resolve() not in linked] == []


def test_every_file_the_pages_name_exists() -> None:
    """A page that names a module, a test or a bench script by its path names one that exists,
    so that moving a file means updating the pages that send readers to it."""
    missing = []
    for page in pages():
        for match in PATH_SPAN.finditer(page.read_text(encoding="utf-8")):
            path = match.group(1).split("::")[0].rstrip("/")
            if not any(mark in path for mark in "*<>{}…") and not (ROOT / path).exists():
                missing.append(f"{page.relative_to(ROOT)}: {match.group(1)}")
    assert missing == []


def test_slug_follows_github() -> None:
    assert slug("6. Gestational diabetes (GDM)") == "6-gestational-diabetes-gdm"
    assert slug("FHIR R4 intake (`/fhir/r4/`)") == "fhir-r4-intake-fhirr4"
    assert slug("Her identity, conversations and payments") == "her-identity-conversations-and-payments"


def tracked_files() -> list[str]:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: the tracked files are unknown")
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True
    ).stdout.decode("utf-8")
    return [name for name in listed.split("\0") if name]


def test_no_file_sends_a_reader_to_a_design_document_outside_the_repository() -> None:
    offenders = []
    for name in tracked_files():
        path = ROOT / name
        if not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # images and other binary files
        for number, line in enumerate(text.splitlines(), 1):
            checked = PROVENANCE.sub("", line) if name.startswith("docs/") else line
            if DESIGN_DOCUMENT.search(checked) or OUTSIDE_FILE.search(line):
                offenders.append(f"{name}:{number}: {line.strip()}")
    assert offenders == [], "point these at the docs/ page that holds the text now"
