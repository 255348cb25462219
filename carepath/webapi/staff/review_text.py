"""The review pages' messages in the reader's language: the authoring service's refusals
("version 3 is draft, not in review") and the notes it writes into a document's history
("rolled back to version 2. enrolled women stay on their version").

Both are English sentences the service (``store/authoring.py``, ``store/upstream.py``) wrote,
the history's in the database for good. They are recognised here, at display time, by their
code and shape; a sentence is only used when its English gives back exactly what was stored,
so an unknown or changed message, or a reviewer's own words, are shown as they are.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from carepath.engine.messages import Translate, render_text, untranslated
from carepath.engine.sentences import sentence
from carepath.errors import CarepathError, Text

SENTENCES: dict[str, str] = dict(
    [
        # the authoring service's refusals
        sentence("review/approvals", "approvals must be 1 or 2"),
        sentence("review/unknown-roles", "unknown roles: {roles}"),
        sentence("review/name-a-role", "name at least one role"),
        sentence("review/no-version", "no version {id} in this hospital"),
        sentence("review/nothing-to-start-from", "no {kind} {name} to start from"),
        sentence("review/too-large", "a document is at most {kb} KB"),
        sentence("review/only-drafts-edited", "version {number} is {status}; only a draft is edited"),
        sentence("review/not-a-draft", "version {number} is {status}, not a draft"),
        sentence("review/bad-decision", "decision is approve or reject"),
        sentence("review/not-in-review", "version {number} is {status}, not in review"),
        sentence("review/own-change", "you wrote this change; another reviewer must decide on it"),
        sentence("review/already-reviewed", "you have already reviewed this round"),
        sentence("review/comment-required", "say why in a comment"),
        sentence(
            "review/only-approved-published",
            "version {number} is {status}; only an approved version is published",
        ),
        sentence("review/approvals-missing", "{approved} of {needed} approval(s)"),
        sentence(
            "review/only-published-rolled-back", "only a version that was published can be rolled back to"
        ),
        sentence("review/finish-first", "version {number} is {status}; finish or withdraw it first"),
        sentence("review/not-published", "version {number} is {status}, not published"),
        sentence("review/unknown-kind", "unknown kind {kind}; one of {kinds}"),
        sentence("review/not-shipped", "carepath ships no {kind} {name}"),
        sentence("review/needs-permission", "this needs the {permission} permission"),
        sentence("review/reviewing-needs", "reviewing needs the {permission} permission"),
        sentence("review/reviewer-roles", "this hospital's reviewers have one of the roles {roles}"),
        sentence("review/no-document", "no document {id} in this hospital"),
        sentence("review/no-newer-shipped", "no newer shipped text for this document"),
        sentence(
            "review/finish-before-adopting",
            "version {number} is {status}; finish it before adopting the shipped text",
        ),
        sentence("review/not-compiled", "the draft has {count} error(s); fix them before review"),
        sentence(
            "review/draft-conflict",
            "{name} saved this draft at {at} (revision {revision}) after you loaded it; "
            "your text is returned unsaved",
        ),
        sentence("status/draft", "draft"),
        sentence("status/in_review", "in_review"),
        sentence("status/published", "published"),
        sentence("status/retired", "retired"),
        sentence("kind/pathway", "pathway"),
        sentence("kind/content", "content"),
        sentence("kind/form", "form"),
        # the notes the service writes into the history
        sentence("history/copied", "copied from the shipped library"),
        sentence("history/from-version", "from version {number}"),
        sentence("history/from-library", "from the shipped library"),
        sentence("history/from-upstream", "from the newer shipped library"),
        sentence("history/moved", "enrolled women moved to it"),
        sentence("history/stayed", "enrolled women stay on their version"),
        sentence("history/rolled-back", "rolled back to version {number}.{comment}{note}"),
        sentence("history/note", " {note}"),
        sentence("history/words", " {words}"),
    ]
)

_VERSION = r"version (?P<number>\d+) is (?P<status>\w+)"
#: An authoring error's code -> the shapes of its messages and their sentences.
_REFUSALS: Mapping[str, tuple[tuple[str, str], ...]] = {
    "bad-policy": (
        (r"approvals must be 1 or 2", "review/approvals"),
        (r"unknown roles: (?P<roles>.*)", "review/unknown-roles"),
        (r"name at least one role", "review/name-a-role"),
    ),
    "document-not-found": (
        (r"no version (?P<id>\S+) in this hospital", "review/no-version"),
        (r"no (?P<kind>\w+) (?P<name>'.*'|\".*\") to start from", "review/nothing-to-start-from"),
        (r"unknown kind (?P<kind>'.*'|\".*\"); one of (?P<kinds>.*)", "review/unknown-kind"),
        (r"carepath ships no (?P<kind>\w+) (?P<name>'.*'|\".*\")", "review/not-shipped"),
        (r"no document (?P<id>\S+) in this hospital", "review/no-document"),
        (r"no newer shipped text for this document", "review/no-newer-shipped"),
    ),
    "too-large": ((r"a document is at most (?P<kb>\d+) KB", "review/too-large"),),
    "wrong-status": (
        (_VERSION + r"; only a draft is edited", "review/only-drafts-edited"),
        (_VERSION + r", not a draft", "review/not-a-draft"),
        (_VERSION + r", not in review", "review/not-in-review"),
        (_VERSION + r"; only an approved version is published", "review/only-approved-published"),
        (r"only a version that was published can be rolled back to", "review/only-published-rolled-back"),
        (_VERSION + r", not published", "review/not-published"),
    ),
    "draft-exists": (
        (_VERSION + r"; finish or withdraw it first", "review/finish-first"),
        (_VERSION + r"; finish it before adopting the shipped text", "review/finish-before-adopting"),
    ),
    "bad-decision": ((r"decision is approve or reject", "review/bad-decision"),),
    "own-change": ((r"you wrote this change; another reviewer must decide on it", "review/own-change"),),
    "already-reviewed": ((r"you have already reviewed this round", "review/already-reviewed"),),
    "comment-required": ((r"say why in a comment", "review/comment-required"),),
    "not-approved": ((r"(?P<approved>\d+) of (?P<needed>\d+) approval\(s\)", "review/approvals-missing"),),
    "not-compiled": (
        (r"the draft has (?P<count>\d+) error\(s\); fix them before review", "review/not-compiled"),
    ),
    "not-allowed": (
        (r"this needs the (?P<permission>\S+) permission", "review/needs-permission"),
        (r"reviewing needs the (?P<permission>\S+) permission", "review/reviewing-needs"),
        (r"this hospital's reviewers have one of the roles (?P<roles>.*)", "review/reviewer-roles"),
    ),
    "draft-conflict": (
        (
            r"(?P<name>.*) saved this draft at (?P<at>\S+) \(revision (?P<revision>\d+)\) after you "
            r"loaded it; your text is returned unsaved",
            "review/draft-conflict",
        ),
    ),
}
_NOTES = {
    "enrolled women moved to it": "history/moved",
    "enrolled women stay on their version": "history/stayed",
}
_ROLLED_BACK = re.compile(r"rolled back to version (?P<number>\d+)\.(?P<rest>.*)", re.S)
_FROM_VERSION = re.compile(r"from version (?P<number>\d+)")


def _said(key: str, **args: object) -> Text:
    """A sentence whose values may name a status or a document kind (said in words too)."""
    for name, value in args.items():
        if name == "status" and f"status/{value}" in SENTENCES:
            args[name] = Text(f"status/{value}")
        elif name == "kind" and f"kind/{value}" in SENTENCES:
            args[name] = Text(f"kind/{value}")
    return Text(key, args)


def _exactly(raw: str, text: Text, translate: Translate) -> str:
    """``text`` in the reader's language, when its English is ``raw`` exactly; else ``raw``."""
    if render_text(text, untranslated, SENTENCES) != raw:
        return raw
    return render_text(text, translate, SENTENCES)


def refusal_message(error: CarepathError, translate: Translate = untranslated) -> str:
    """An authoring error's message in the reader's language (as raised when not recognised)."""
    raw = error.message
    for pattern, key in _REFUSALS.get(error.code, ()):
        match = re.fullmatch(pattern, raw, re.S)
        if match is not None:
            return _exactly(raw, _said(key, **match.groupdict()), translate)
    return raw


def history_comment(action: str, comment: str | None, translate: Translate = untranslated) -> str:
    """A history entry's comment in the reader's language: the service's own notes are said
    in it, a person's words are kept as written."""
    if not comment:
        return ""
    text = _history_note(action, comment)
    return comment if text is None else _exactly(comment, text, translate)


def _history_note(action: str, comment: str) -> Text | None:
    if action == "copied" and comment == "copied from the shipped library":
        return Text("history/copied")
    if action == "drafted":
        if (found := _FROM_VERSION.fullmatch(comment)) is not None:
            return Text("history/from-version", {"number": found["number"]})
        known = {
            "from the shipped library": "history/from-library",
            "from the newer shipped library": "history/from-upstream",
        }
        return Text(known[comment]) if comment in known else None
    if action == "published" and comment in _NOTES:
        return Text(_NOTES[comment])
    if action == "rolled-back" and (found := _ROLLED_BACK.fullmatch(comment)) is not None:
        rest, note = found["rest"], ""
        for words, key in _NOTES.items():
            if rest.endswith(" " + words):
                rest, note = rest[: -len(words) - 1], key
        note_text: Text | str = Text("history/note", {"note": Text(note)}) if note else ""
        words: Text | str = Text("history/words", {"words": rest[1:]}) if rest.startswith(" ") else rest
        return Text("history/rolled-back", {"number": found["number"], "comment": words, "note": note_text})
    return None
