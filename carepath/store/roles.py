"""Roles and what each may do: the one table of permissions (pure data, no Flask).

Views check a permission, never a role, through ``webapi/auth/permissions.py``; adding a role
or moving a permission is a change to ``ROLE_PERMISSIONS`` alone. A staff member may hold
several roles; their permissions are the union.
"""

from __future__ import annotations

from collections.abc import Iterable


def label(text: str) -> str:
    """Marks an English UI label for the translation catalogue (``make translations``)."""
    return text


#: Every permission a view may require, with what it allows (shown on the admin screen).
PERMISSIONS: dict[str, str] = {
    "pathway.read": label("see pathways, their versions and previews"),
    "pathway.edit": label("write and change drafts of pathways"),
    "pathway.review": label("review and approve a pathway draft someone else wrote"),
    "pathway.publish": label("publish an approved pathway version, roll back"),
    "content.read": label("see content items and forms"),
    "content.edit": label("write and change drafts of content items and forms"),
    "content.review": label("review and approve content items and forms"),
    "impact.run": label("run the cohort impact of a draft"),
    "patient.read": label("see patient records (audited)"),
    "task.work": label("work the staff task list"),
    "task.assign": label("reassign a task to another member of the team"),
    "patient.write": label("change a woman's record: tags, plans, messages, tasks (audited)"),
    "patient.register": label("register a woman at the desk"),
    "risk.confirm": label("confirm or change a suggested risk colour"),
    "batch.run": label("act on many women at once (tags, plans, messages)"),
    "deletion.handle": label("decide on women's deletion and correction requests"),
    "export": label("export reports (masked)"),
    "staff.manage": label("create, change and disable staff accounts and their roles"),
    "workflow.configure": label("configure the hospital's review workflow"),
    "audit.read": label("read the audit log"),
}

_READ = ("pathway.read", "content.read")
_CARE = ("patient.read", "task.work", "task.assign", "patient.write", "patient.register")

#: The roles, in the order the admin screen lists them, and their permissions.
ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    # Deciding on her deletion request is the records office's work, not a clinician's.
    "admin": frozenset({*_READ, "staff.manage", "workflow.configure", "audit.read", "deletion.handle"}),
    # A suggested colour is a clinical judgement (2017 规范): doctors confirm it; batches act on
    # many women's care, so they are a doctor's decision too.
    "doctor": frozenset({*_READ, *_CARE, "risk.confirm", "batch.run"}),
    "nurse": frozenset({*_READ, *_CARE}),
    "midwife": frozenset({*_READ, *_CARE}),
    "content_author": frozenset({*_READ, "pathway.edit", "content.edit", "impact.run"}),
    "reviewer": frozenset({*_READ, "pathway.review", "pathway.publish", "content.review", "impact.run"}),
    "analyst": frozenset({*_READ, "impact.run", "export"}),
}
ROLES: tuple[str, ...] = tuple(ROLE_PERMISSIONS)
#: What the UI calls each role (English message ids; the UI translates them).
ROLE_TITLES: dict[str, str] = {
    "admin": label("Administrator"),
    "doctor": label("Doctor"),
    "nurse": label("Nurse"),
    "midwife": label("Midwife"),
    "content_author": label("Content author"),
    "reviewer": label("Reviewer"),
    "analyst": label("Analyst"),
}


class UnknownRoleError(ValueError):
    """A role name that is not in ``ROLES``."""


def check_roles(roles: Iterable[str]) -> list[str]:
    """``roles`` deduplicated in the table's order, or ``UnknownRoleError`` naming the first bad one."""
    wanted = set(roles)
    unknown = sorted(wanted - set(ROLES))
    if unknown:
        raise UnknownRoleError(f"unknown role {unknown[0]!r}; one of {', '.join(ROLES)}")
    return [role for role in ROLES if role in wanted]


def permissions_of(roles: Iterable[str]) -> frozenset[str]:
    """The union of the permissions of ``roles`` (unknown names grant nothing)."""
    granted: set[str] = set()
    for role in roles:
        granted |= ROLE_PERMISSIONS.get(role, frozenset())
    return frozenset(granted)
