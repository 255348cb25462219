"""The release manifest (issue 17 item 14; ``store/release.py``): the shipped one is read, and a
manifest that is wrong is a clear error naming the file and the field, never a half-read release."""

from __future__ import annotations

from pathlib import Path

import pytest

from carepath.engine.catalogue import PATHWAYS_DIR
from carepath.store.library_files import Shipped
from carepath.store.release import ReleaseError, load_release

GOOD = """\
version: t-1
safety: true
summary: 测试
changes:
  - {kind: pathway, name: checkup-schedule, why: 原因}
"""


def _shipped(tmp_path: Path, manifest: str | None) -> Shipped:
    (tmp_path / "pathways").mkdir(parents=True)
    (tmp_path / "pathways" / "checkup-schedule.yaml").write_text(
        (PATHWAYS_DIR / "checkup-schedule.yaml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    if manifest is not None:
        (tmp_path / "pathways" / "release").mkdir()
        (tmp_path / "pathways" / "release" / "release.yaml").write_text(manifest, encoding="utf-8")
    return Shipped({"pathway": tmp_path / "pathways", "content": tmp_path, "form": tmp_path})


def test_the_shipped_release_is_safety_relevant_and_names_only_shipped_documents() -> None:
    release = load_release()
    assert release is not None and release.safety
    assert "checkup-schedule" in release.names("pathway") and "visit-4" in release.names("content")
    assert all(change.why for change in release.changes)


def test_a_good_manifest_and_none_at_all(tmp_path: Path) -> None:
    release = load_release(_shipped(tmp_path, GOOD))
    assert release is not None
    assert (release.version, release.safety, release.names("pathway")) == ("t-1", True, ["checkup-schedule"])
    assert load_release(_shipped(tmp_path / "none", None)) is None


@pytest.mark.parametrize(
    ("manifest", "message"),
    [
        (GOOD.replace("version: t-1", "version: ''"), "version: a non-empty text"),
        (GOOD.replace("safety: true", "safety: maybe"), "safety: true or false"),
        (GOOD.replace("summary: 测试", "summary: ''"), "summary: a non-empty text"),
        (
            GOOD.replace("name: checkup-schedule", "name: checkups"),
            "changes[0]: name: 'checkups' is not a shipped pathway",
        ),
        (GOOD.replace("kind: pathway", "kind: lesson"), "changes[0]: kind: one of pathway, content, form"),
        (GOOD.replace("why: 原因", "why: ''"), "changes[0]: why: a non-empty text"),
        (GOOD.split("changes:", maxsplit=1)[0] + "changes: []\n", "changes: at least one"),
        ("- a list\n", "a mapping with version"),
        ("version: [\n", "not YAML"),
    ],
)
def test_a_wrong_manifest_is_a_located_bad_release(tmp_path: Path, manifest: str, message: str) -> None:
    with pytest.raises(ReleaseError) as caught:
        load_release(_shipped(tmp_path, manifest))
    assert caught.value.code == "bad-release"
    assert str(tmp_path / "pathways" / "release" / "release.yaml") in caught.value.message
    assert message in caught.value.message
