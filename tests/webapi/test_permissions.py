"""The role -> permission table and the ``require`` decorator: the one place checks happen."""

from __future__ import annotations

import pytest
from flask import Flask

from carepath.store.roles import (
    PERMISSIONS,
    ROLE_PERMISSIONS,
    ROLE_TITLES,
    ROLES,
    check_roles,
    permissions_of,
)
from carepath.webapi.auth.permissions import require


def test_every_role_has_a_title_and_only_known_permissions() -> None:
    assert (
        set(ROLE_TITLES)
        == set(ROLES)
        == {
            "admin",
            "doctor",
            "nurse",
            "midwife",
            "content_author",
            "reviewer",
            "analyst",
        }
    )
    for role, granted in ROLE_PERMISSIONS.items():
        assert granted <= set(PERMISSIONS), role


def test_every_permission_is_held_by_some_role() -> None:
    held = set().union(*ROLE_PERMISSIONS.values())
    assert held == set(PERMISSIONS)


def test_authoring_and_reviewing_are_separate_roles() -> None:
    """The author of a change cannot approve it: no single role both edits and reviews."""
    for role, granted in ROLE_PERMISSIONS.items():
        assert not {"pathway.edit", "pathway.review"} <= granted, role
        assert not {"content.edit", "content.review"} <= granted, role
    assert permissions_of(["admin"]) >= {"staff.manage"}
    assert "staff.manage" not in permissions_of(["doctor", "nurse", "midwife", "content_author", "reviewer"])
    assert permissions_of(["content_author", "reviewer"]) >= {"pathway.edit", "pathway.review"}


def test_roles_are_checked_and_ordered() -> None:
    assert check_roles(["reviewer", "admin", "reviewer"]) == ["admin", "reviewer"]
    with pytest.raises(ValueError, match="unknown role 'root'"):
        check_roles(["root"])
    assert permissions_of(["root"]) == frozenset()


def test_require_refuses_an_unknown_permission_at_import() -> None:
    with pytest.raises(ValueError, match=r"unknown permission 'pathway\.edti'"):
        require("pathway.edti")


def test_every_staff_page_is_guarded(app: Flask) -> None:
    """Each view of the staff blueprints declares what it needs (None: any logged-in staff)."""
    open_views = {"auth.login", "auth.login_post", "auth.logout", "i18n.choose_language"}
    for rule in app.url_map.iter_rules():
        if (
            rule.endpoint.split(".")[0] in ("auth", "staff_admin", "editor")
            and rule.endpoint not in open_views
        ):
            view = app.view_functions[rule.endpoint]
            assert hasattr(view, "required_permission"), rule.endpoint
    assert app.view_functions["staff_admin.staff_list"].required_permission == "staff.manage"
