"""The shipped library as the editor lists it: pathways, content items and forms.

Each entry names its kind, file, title and review status, read from the file itself (a
content item's and a form's ``review: {status: ...}``; a pathway file carries no review
field yet, so it is ``draft`` until the versions and review workflow records one). Files are
opened only by a name found in this listing, never by a path from a request.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from carepath.store.library_files import KINDS, SHIPPED, Shipped
from carepath.webapi.staff.editor.diagnostics import Kind


@dataclass(frozen=True)
class LibraryFile:
    kind: Kind
    name: str  # the file's stem: the pathway id, content key or form id
    filename: str
    title: str
    status: str
    path: Path

    def source(self) -> str:
        return self.path.read_text(encoding="utf-8")


def shipped_library(shipped: Shipped = SHIPPED) -> tuple[LibraryFile, ...]:
    """Every document of the shipped library (the directories and names of
    ``store.library_files.Shipped``, which the review workflow uses too), pathways first, each
    kind sorted by name."""
    return _listing(tuple((kind, shipped.directories[kind]) for kind in KINDS))


@functools.cache
def _listing(directories: tuple[tuple[str, Path], ...]) -> tuple[LibraryFile, ...]:
    """Cached per set of directories: package data does not change while the process runs."""
    shipped = Shipped(dict(directories))
    files: list[LibraryFile] = []
    for kind, _ in directories:
        read = _front_matter_fields if kind == "content" else _yaml_fields
        files += [_entry(kind, shipped.path(kind, name), read) for name in shipped.names(kind)]
    return tuple(files)


def find(kind: str, name: str, shipped: Shipped = SHIPPED) -> LibraryFile | None:
    return next((f for f in shipped_library(shipped) if f.kind == kind and f.name == name), None)


def _entry(kind: Kind, path: Path, read: Any) -> LibraryFile:
    fields = read(path)
    review = fields.get("review")
    status = review.get("status") if isinstance(review, dict) else None
    title = fields.get("title")
    return LibraryFile(
        kind=kind,
        name=path.stem,
        filename=path.name,
        title=str(title) if title else path.stem,
        status=str(status) if status else "draft",
        path=path,
    )


def _yaml_fields(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return {}  # listed without a title; opening it shows the located problem
    return data if isinstance(data, dict) else {}


def _front_matter_fields(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return {}
    parts = text.split("\n---", 1)
    if not text.startswith("---") or len(parts) != 2:
        return {}
    try:
        data = yaml.safe_load(parts[0].removeprefix("---"))
    except yaml.YAMLError:
        return {}
    return data if isinstance(data, dict) else {}
