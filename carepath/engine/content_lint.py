"""Check the education library and the forms before anything is sent.

``lint_paths`` collects every problem with a location and a stable code:

| code | what |
|---|---|
| ``missing-front-matter``, ``bad-front-matter``, ``content-schema`` | an item's front matter |
| ``yaml-syntax`` (and the loader's other codes), ``form-schema``, ``bad-*``, ``form-id-mismatch`` | a form |
| ``key-mismatch`` | ``key`` is not the file name stem |
| ``missing-section`` | a required ``## `` heading of the item's kind is absent |
| ``audience-mismatch`` | a weekly lesson not aimed at its own week |
| ``broken-link`` | ``[..](content:KEY)`` names no item |
| ``unknown-source`` | a source not in ``content/sources.yaml`` (docs/domain.md §Sources) |
| ``sensitive-summary`` | the summary names a condition, diagnosis, test, result or drug |
| ``unknown-tag`` | a form choice gives a tag missing from ``pathways/tags.yaml`` (when present) |
| ``sensitive-unmarked`` | the body names a condition or drug but ``sensitive`` is false |
| ``celebrates-unmarked`` | the text congratulates her (恭喜, 祝贺) but ``celebrates`` is not true |
| ``bad-template`` | the title, summary or body fails to compile or render (injected check) |
| ``missing-file``, ``bad-encoding``, ``unknown-file`` | the input itself |

The template check lives in the delivery layer (Jinja2); the CLI passes it in, so this module
stays pure.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import yaml

from carepath.engine.content import (
    CONTENT_DIRECTORY,
    KIND_SECTIONS,
    ContentItem,
    content_kind,
    load_content_library,
    parse_content_item,
    read_text_file,
)
from carepath.engine.forms import FORMS_DIRECTORY, Form, parse_form
from carepath.engine.messages import problem, recognised, say
from carepath.errors import CompileError, Location, Problem

#: (template text) -> [(line within the template, message)]
TemplateCheck = Callable[[str], Sequence[tuple[int, str]]]

SENSITIVE_TERMS_FILE = "sensitive_terms.yaml"
SOURCES_FILE = "sources.yaml"
_DATA_FILES = {SENSITIVE_TERMS_FILE, SOURCES_FILE}
TAGS_FILE = Path(__file__).resolve().parent.parent / "pathways" / "tags.yaml"
_SUMMARY_CATEGORIES = ("conditions", "drugs", "tests", "results", "summary_only")
_BODY_CATEGORIES = ("conditions", "drugs")
#: The template check's (delivery's) words, as catalogue sentences.
_TEMPLATE_WORDS = (
    (re.compile(r"template syntax: (?P<detail>.*)", re.S), "template/syntax"),
    (
        re.compile(r"'(?P<name>[^']*)' is not a safe fact \(allowed: (?P<allowed>.*)\)", re.S),
        "template/unsafe-fact",
    ),
    (re.compile(r"render: (?P<detail>.*)", re.S), "template/render"),
)


def _bad_template(location: Location, part: str, message: str) -> Problem:
    detail = recognised(message, _TEMPLATE_WORDS, "template/other")
    return problem(
        location, "bad-template", say("bad-template/part", part=say(f"part/{part}"), detail=detail)
    )


@dataclass
class LintReport:
    problems: list[Problem] = field(default_factory=list)
    items: list[ContentItem] = field(default_factory=list)
    forms: list[Form] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    def review_counts(self) -> dict[str, int]:
        """How many items and forms are draft or approved: what still needs a clinician."""
        counts = {"draft": 0, "approved": 0}
        for status in [i.review_status for i in self.items] + [f.review_status for f in self.forms]:
            counts[status] = counts.get(status, 0) + 1
        return counts


@dataclass(frozen=True)
class Vocabulary:
    """What the privacy and source checks compare against."""

    terms: Mapping[str, tuple[str, ...]]
    sources: frozenset[str]

    def found(self, text: str, categories: Iterable[str]) -> list[str]:
        hits = {term for c in categories for term in self.terms.get(c, ()) if term in text}
        return sorted(hits, key=lambda term: (text.index(term), term))


def load_vocabulary(directory: Path = CONTENT_DIRECTORY) -> Vocabulary:
    """Sensitive terms and known sources of the built-in library."""
    raw_terms = yaml.safe_load(read_text_file(directory / SENSITIVE_TERMS_FILE)) or {}
    raw_sources = yaml.safe_load(read_text_file(directory / SOURCES_FILE)) or {}
    terms = {name: tuple(str(t) for t in raw_terms.get(name) or ()) for name in _SUMMARY_CATEGORIES}
    return Vocabulary(terms=terms, sources=frozenset(str(key) for key in raw_sources))


def load_tag_vocabulary(path: Path = TAGS_FILE) -> frozenset[str] | None:
    """The hospital's tags (``tags: [{tag: 瘢痕子宫, ...}]``), or None when there is no file."""
    if not path.exists():
        return None
    data = yaml.safe_load(read_text_file(path)) or {}
    entries = data.get("tags", []) if isinstance(data, dict) else []
    return frozenset(str(entry["tag"]) if isinstance(entry, dict) else str(entry) for entry in entries)


def _collect(paths: Sequence[Path]) -> tuple[list[Path], list[Path], list[Problem]]:
    """Split the inputs into item files and form files; directories are searched one level."""
    items: list[Path] = []
    forms: list[Path] = []
    problems: list[Problem] = []
    for path in paths:
        if not path.exists():
            problems.append(problem(Location(str(path)), "missing-file", say("missing-file/none")))
            continue
        try:
            candidates = sorted(path.iterdir()) if path.is_dir() else [path]
        except OSError as exc:
            problems.append(
                problem(
                    Location(str(path)), "unreadable", say("unreadable/os", reason=exc.strerror or str(exc))
                )
            )
            continue
        for candidate in candidates:
            if candidate.suffix == ".md":
                items.append(candidate)
            elif candidate.suffix in (".yaml", ".yml") and candidate.name not in _DATA_FILES:
                forms.append(candidate)
            elif not path.is_dir():
                problems.append(problem(Location(str(candidate)), "unknown-file", say("unknown-file/kind")))
    return items, forms, problems


def lint_paths(
    paths: Sequence[Path] = (),
    *,
    template_check: TemplateCheck | None = None,
    vocabulary: Vocabulary | None = None,
    tags: frozenset[str] | None = None,
) -> LintReport:
    """Lint the given files and directories (default: the built-in content and forms)."""
    targets = list(paths) or [_shortest(CONTENT_DIRECTORY), _shortest(FORMS_DIRECTORY)]
    item_paths, form_paths, problems = _collect(targets)
    report = LintReport(problems=problems)
    words = vocabulary or load_vocabulary()
    for path in item_paths:
        try:
            report.items.append(parse_content_item(read_text_file(path), path))
        except CompileError as exc:
            report.problems.extend(exc.problems)
    for path in form_paths:
        try:
            form = parse_form(read_text_file(path), path)
        except CompileError as exc:
            report.problems.extend(exc.problems)
            continue
        if form.id != path.stem:
            text = say("form-id-mismatch/in-file", form=form.id, file=path.name)
            report.problems.append(problem(Location(str(path)), "form-id-mismatch", text))
        report.forms.append(form)
    builtin = _builtin_library()
    known_keys = set(builtin) | {item.key for item in report.items}
    everything = [*builtin.values(), *report.items]
    condition_titles = tuple(sorted({i.title for i in everything if i.kind == "condition"}))
    for item in report.items:
        report.problems.extend(check_item(item, known_keys, words, condition_titles))
        if template_check is not None:
            report.problems.extend(_template_problems(item, template_check))
    known_tags = tags if tags is not None else load_tag_vocabulary()
    for form in report.forms:
        report.problems.extend(
            check_form_text_rules(form, known_tags, words, condition_titles, template_check)
        )
    report.problems.sort(key=lambda p: (p.location, p.code))
    return report


def check_form_text_rules(
    form: Form,
    known_tags: frozenset[str] | None,
    words: Vocabulary,
    condition_titles: Sequence[str] = (),
    template_check: TemplateCheck | None = None,
) -> list[Problem]:
    """The lint rules of a form that parsed: its tags, its summary's privacy and template."""
    found = _tag_problems(form, known_tags) if known_tags is not None else []
    where = Location(form.path, form.summary_line)
    found.extend(summary_problems(form.summary, where, words, condition_titles))
    for line, message in template_check(form.summary) if template_check else ():
        found.append(_bad_template(Location(form.path, form.summary_line + line - 1), "summary", message))
    return found


def lint_text(
    text: str,
    path: str,
    kind: Literal["content", "form"],
    *,
    template_check: TemplateCheck | None = None,
) -> list[Problem]:
    """Lint one content item or form given as text (an editor's buffer), against the built-in
    library, vocabulary and tags; the same rules as ``lint_paths``, sorted by location.

    ``path`` names the buffer in each problem; the key and id checks compare against its stem.
    """
    words = _cached_vocabulary()
    builtin = _cached_builtin_library()
    titles = {i.title for i in builtin.values() if i.kind == "condition"}
    try:
        if kind == "content":
            item = parse_content_item(text, path)
            if item.kind == "condition":
                titles.add(item.title)
            found = check_item(item, {*builtin, item.key}, words, sorted(titles))
            if template_check is not None:
                found.extend(_template_problems(item, template_check))
        else:
            form = parse_form(text, path)
            found = check_form_text_rules(form, _cached_tags(), words, sorted(titles), template_check)
            if form.id != Path(path).stem:
                said = say("form-id-mismatch/in-file", form=form.id, file=path)
                found.append(problem(Location(path), "form-id-mismatch", said))
    except CompileError as exc:
        found = list(exc.problems)
    return sorted(found, key=lambda p: (p.location, p.code))


def _shortest(path: Path) -> Path:
    """The built-in directories relative to the working directory when inside it."""
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path


def _builtin_library() -> dict[str, ContentItem]:
    try:
        return load_content_library()
    except CompileError:
        return {}  # the built-in library has its own problems; linting it reports them


def check_item(
    item: ContentItem,
    known_keys: set[str],
    words: Vocabulary,
    condition_titles: Sequence[str] = (),
) -> list[Problem]:
    """Every content rule that needs no rendering."""
    found: list[Problem] = []

    def at(line: int, column: int = 1) -> Location:
        return Location(item.path, line, column)

    stem = Path(item.path).stem
    if item.key != stem:
        found.append(
            problem(
                at(item.line_of("key")), "key-mismatch", say("key-mismatch/stem", key=item.key, stem=stem)
            )
        )
    headings = {line.strip()[3:].strip() for line in item.body.splitlines() if line.startswith("## ")}
    for section in KIND_SECTIONS[content_kind(item.key)]:
        if section not in headings:
            text = say("missing-section/heading", kind=say(f"content-kind/{item.kind}"), section=section)
            found.append(problem(at(item.body_line), "missing-section", text))
    if item.kind == "weekly":
        week = int(item.key.split("-")[1])
        if list(item.audience.get("weeks", ())) != [week, week]:
            found.append(
                problem(
                    at(item.line_of("audience")),
                    "audience-mismatch",
                    say("audience-mismatch/weeks", week=week),
                )
            )
    for target, line, column in item.links:
        if target not in known_keys:
            found.append(problem(at(line, column), "broken-link", say("broken-link/target", key=target)))
    for source in item.sources:
        if source not in words.sources:
            text = say("unknown-source/not-listed", source=source, file=SOURCES_FILE)
            found.append(problem(at(item.line_of("sources")), "unknown-source", text))
    found.extend(summary_problems(item.summary, at(item.line_of("summary")), words, condition_titles))
    body_words = words.found(item.body, _BODY_CATEGORIES)
    if body_words and not item.sensitive:
        text = say("sensitive-unmarked/body", words="、".join(body_words[:3]))
        found.append(problem(at(item.line_of("sensitive")), "sensitive-unmarked", text))
    found.extend(_celebration_problems(item, at))
    return found


#: Words that congratulate her: an item saying them must be marked ``celebrates: true``, so a
#: lost baby withdraws it (``store/congratulations.py``; docs/content-and-forms.md).
CELEBRATING_WORDS = ("恭喜", "祝贺")


def _celebration_problems(item: ContentItem, at: Callable[..., Location]) -> list[Problem]:
    """``celebrates-unmarked`` at the first line that congratulates, if the item is not marked."""
    if item.celebrates:
        return []
    places = [(item.title, item.line_of("title")), (item.summary, item.line_of("summary"))]
    places += [(line, item.body_line + offset) for offset, line in enumerate(item.body.splitlines())]
    for text, line in places:
        words = [word for word in CELEBRATING_WORDS if word in text]
        if words:
            column = min(text.index(word) for word in words) + 1
            said = say("celebrates-unmarked/words", words="、".join(words))
            return [problem(at(line, column), "celebrates-unmarked", said)]
    return []


def summary_problems(
    summary: str, location: Location, words: Vocabulary, condition_titles: Sequence[str] = ()
) -> list[Problem]:
    """A summary may show on a lock screen: it must not name what the body may."""
    named = Vocabulary({**words.terms, "titles": tuple(condition_titles)}, words.sources).found(
        summary, (*_SUMMARY_CATEGORIES, "titles")
    )
    if not named:
        return []
    return [
        problem(location, "sensitive-summary", say("sensitive-summary/lock-screen", words="、".join(named)))
    ]


def _tag_problems(form: Form, known_tags: frozenset[str]) -> list[Problem]:
    """A choice may only give tags the pathways know; anything else would never match."""
    return [
        problem(
            Location(form.path),
            "unknown-tag",
            say("unknown-tag/form-choice", item=item.id, choice=choice.value, tag=tag),
        )
        for item in form.items
        for choice in item.choices
        for tag in choice.tags
        if tag not in known_tags
    ]


def _template_problems(item: ContentItem, template_check: TemplateCheck) -> list[Problem]:
    found: list[Problem] = []
    for name, text, first_line in (
        ("title", item.title, item.line_of("title")),
        ("summary", item.summary, item.line_of("summary")),
        ("body", item.body, item.body_line),
    ):
        for line, message in template_check(text):
            found.append(_bad_template(Location(item.path, first_line + line - 1), name, message))
    return found


# The built-in library, vocabulary and tags are package data: read once per process for the
# editor, which lints on every keystroke. ``lint_paths`` reads them afresh (the CLI runs once).
_cached_builtin_library = functools.cache(_builtin_library)
_cached_vocabulary = functools.cache(load_vocabulary)
_cached_tags = functools.cache(load_tag_vocabulary)
