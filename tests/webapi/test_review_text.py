"""The review pages' messages in Chinese: every refusal the authoring service raises is
recognised (found in the sources of its steps), and the notes it writes into the history are said in the
reader's language while a reviewer's own words stay as written."""

from __future__ import annotations

import ast
from datetime import UTC, datetime

import pytest

from carepath.store import authoring, drafting, publishing, reviewing, upstream
from carepath.store.models import LibraryDocument
from carepath.webapi.common.diagnostics_text import translator
from carepath.webapi.staff.review_text import history_comment, refusal_message
from tests.conftest import ROOT

ZH = translator("zh")


def _raised_messages() -> list[tuple[str, str]]:
    """(code, a message) for each refusal raised with its message written at the raise: each
    value the message names is replaced by a sample (3, or 'x' where it is quoted)."""
    found = []
    for module in (authoring, drafting, reviewing, publishing, upstream):  # the steps' modules
        tree = ast.parse(
            (ROOT / "carepath" / "store" / f"{module.__name__.rsplit('.', 1)[1]}.py").read_text("utf-8")
        )
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and node.exc.args):
                continue
            name = node.exc.func.id if isinstance(node.exc.func, ast.Name) else ""
            error = getattr(authoring, name, None)
            first = node.exc.args[0]
            if error is None or not issubclass(error, authoring.AuthoringError):
                continue
            code = next((k.value.value for k in node.exc.keywords if k.arg == "code"), error.code)
            if isinstance(first, ast.Constant):
                found.append((code, first.value))
            elif isinstance(first, ast.JoinedStr):
                parts = [
                    part.value
                    if isinstance(part, ast.Constant)
                    else ("'x'" if part.conversion == ord("r") else "3")
                    for part in first.values
                ]
                found.append((code, "".join(parts)))
            elif isinstance(first, ast.IfExp):  # unknown roles or none named
                for branch in (first.body, first.orelse):
                    text = branch.value if isinstance(branch, ast.Constant) else "unknown roles: 3"
                    found.append((code, text))
    return found


def test_every_refusal_the_authoring_service_raises_is_said_in_chinese() -> None:
    messages = _raised_messages()
    assert len(messages) >= 25
    for code, message in messages:
        error = authoring.AuthoringError(message, code=code)
        assert refusal_message(error) == message
        chinese = refusal_message(error, ZH)
        assert chinese != message, (code, message)


def test_a_refusal_names_the_status_in_words() -> None:
    error = authoring.WrongStatusError("version 3 is in_review, not a draft")
    assert refusal_message(error, ZH) == "版本 v3 当前为审核中，不是草稿"
    conflict = authoring.DraftConflictError(4, "李医生", datetime(2026, 7, 10, 7, 0, tzinfo=UTC), "text")
    assert refusal_message(conflict, ZH).startswith(
        "在您打开之后，李医生 于 2026-07-10T07:00:00+00:00 保存了"
    )
    assert refusal_message(conflict) == conflict.message
    unknown = authoring.WrongStatusError("a message nobody taught the catalogue")
    assert refusal_message(unknown, ZH) == unknown.message


@pytest.mark.parametrize("migrate", [True, False])
def test_the_history_notes_are_said_in_chinese_and_a_reviewers_words_are_kept(migrate: bool) -> None:
    pathway = LibraryDocument(kind="pathway", name="gdm")
    note = publishing._migration_note(pathway, migrate)
    moved = "已入组的孕妇转到此版本" if migrate else "已入组的孕妇留在原版本"
    assert history_comment("published", note) == note and history_comment("published", note, ZH) == moved
    rolled = f"{'rolled back to version 2. 血糖日志改回两周一次'.strip()} {note}"
    assert history_comment("rolled-back", rolled) == rolled
    assert history_comment("rolled-back", rolled, ZH) == f"回滚到版本 v2。血糖日志改回两周一次（{moved}）"
    bare = f"{'rolled back to version 2. '.strip()} {note}"
    assert history_comment("rolled-back", bare, ZH) == f"回滚到版本 v2。（{moved}）"
    assert history_comment("drafted", "from version 4", ZH) == "基于版本 v4"
    assert history_comment("drafted", "from the shipped library", ZH) == "基于内置库"
    assert history_comment("copied", "copied from the shipped library", ZH) == "复制自内置库"
    assert history_comment("approved", "enrolled women moved to it", ZH) == "enrolled women moved to it"
    assert history_comment("rejected", "请补充参考文献", ZH) == "请补充参考文献"
    assert history_comment("approved", None, ZH) == ""
