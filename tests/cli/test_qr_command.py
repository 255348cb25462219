"""``carepath qr create|list``: sources, their WeChat codes (against the fake WeChat, over HTTP),
their PNG and SVG pictures, their counts, and every refusal with its code and exit status."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

from carepath.cli import cli
from carepath.store import sources
from carepath.store.db import Database
from tests.conftest import FIELD_KEYS, LOOKUP_KEY, NOW, set_hospital_settings
from tests.fakes.providers import FakeProviders


@pytest.fixture
def fake() -> Iterator[FakeProviders]:
    with FakeProviders() as server:
        yield server
    assert server.errors == []


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    from carepath.store.db import upgrade
    from carepath.store.models import Department, Staff
    from carepath.store.tenants import ensure_hospital

    url = f"sqlite:///{tmp_path / 'carepath.db'}"
    upgrade(url)
    db = Database(url)
    with db.transaction() as session:
        ensure_hospital(session, "a", "hospital a", NOW)
        ensure_hospital(session, "b", "hospital b", NOW)
        session.add(Department(hospital_id="a", name="产科门诊"))
        session.add(Staff(hospital_id="a", name="李医生", role="doctor", username="dr-li"))
    set_hospital_settings(db, "a", public_base_url="https://mch.example.cn")
    db.dispose()
    return {
        "CAREPATH_DATABASE_URL": url,
        "CAREPATH_FIELD_KEYS": FIELD_KEYS,
        "CAREPATH_LOOKUP_KEY": LOOKUP_KEY,
        "CAREPATH_CHANNELS_CONFIG": "",
        "CAREPATH_INSTANCE_PATH": str(tmp_path / "instance"),
        "TEST_WX_SECRET": "wx-secret",
    }


def _channels(tmp_path: Path, fake: FakeProviders, secret_env: str = "TEST_WX_SECRET") -> str:
    path = tmp_path / "channels.yaml"
    path.write_text(
        "hospital: a\n"
        "channels:\n"
        "  wechat_template:\n"
        "    appid: wx-hospital\n"
        f"    secret_env: {secret_env}\n"
        f"    base_url: {fake.base_url}\n"
        f"    qrcode_show_base_url: {fake.base_url}\n",
        encoding="utf-8",
    )
    return str(path)


def _run(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(cli, ["qr", *args], env=env)


def _json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_a_poster_without_wechat_gets_its_short_url_as_png_and_svg(
    env: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "codes"
    made = _json(
        _run(
            env,
            "create",
            "--hospital",
            "a",
            "--department",
            "产科门诊",
            "--out",
            str(out),
            "--format",
            "json",
        )
    )
    code = made["code"]
    assert made["short_url"] == f"https://mch.example.cn/h5/s/{code}"
    assert (made["qr_kind"], made["department"], made["wechat_qr_url"]) == ("permanent", "产科门诊", None)
    assert made["files"] == [str(out / f"{code}.png"), str(out / f"{code}.svg")]
    assert (out / f"{code}.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    svg = (out / f"{code}.svg").read_text(encoding="utf-8")
    assert "<svg" in svg and f"<title>{made['short_url']}</title>" in svg


def test_without_out_the_codes_are_written_in_the_instance_s_qr_folder(
    env: dict[str, str], tmp_path: Path
) -> None:
    made = _json(_run(env, "create", "--hospital", "a", "--format", "json"))
    folder = tmp_path / "instance" / "qr"
    assert made["files"] == [str(folder / f"{made['code']}.png"), str(folder / f"{made['code']}.svg")]
    assert (folder / f"{made['code']}.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_a_doctors_card_gets_the_accounts_permanent_code(
    env: dict[str, str], tmp_path: Path, fake: FakeProviders
) -> None:
    config = _channels(tmp_path, fake)
    out = tmp_path / "codes"
    made = _json(
        _run(
            env,
            "create",
            "--hospital",
            "a",
            "--doctor",
            "dr-li",
            "--config",
            config,
            "--out",
            str(out),
            "--format",
            "json",
        )
    )
    (issued,) = fake.qr_codes.values()
    assert (issued["action"], issued["scene"], issued["appid"]) == (
        "QR_LIMIT_STR_SCENE",
        f"src_{made['code']}",
        "wx-hospital",
    )
    assert made["doctor"] == "李医生" and made["wechat_url"] == issued["url"]
    assert made["wechat_qr_url"].startswith(f"{fake.base_url}/cgi-bin/showqrcode?ticket=")
    assert httpx.get(made["wechat_qr_url"]).headers["content-type"] == "image/png"
    assert sorted(Path(f).name for f in made["files"]) == sorted(
        f"{made['code']}{suffix}" for suffix in (".png", ".svg", "-wechat.png", "-wechat.svg")
    )
    svg = (out / f"{made['code']}-wechat.svg").read_text(encoding="utf-8")
    assert f"<title>{issued['url']}</title>" in svg


def test_a_campaign_gets_a_temporary_code_from_the_environments_channels_file(
    env: dict[str, str], tmp_path: Path, fake: FakeProviders
) -> None:
    env = {**env, "CAREPATH_CHANNELS_CONFIG": _channels(tmp_path, fake)}
    made = _json(
        _run(
            env,
            "create",
            "--hospital",
            "a",
            "--campaign",
            "孕妇学校开放日",
            "--days",
            "14",
            "--format",
            "json",
        )
    )
    (issued,) = fake.qr_codes.values()
    assert (issued["action"], issued["expire_seconds"]) == ("QR_STR_SCENE", 14 * 86400)
    assert made["qr_kind"] == "temporary" and made["campaign"] == "孕妇学校开放日"
    assert made["expires_at"] is not None


def test_text_output_names_both_urls(env: dict[str, str], tmp_path: Path, fake: FakeProviders) -> None:
    result = _run(env, "create", "--hospital", "a", "--config", _channels(tmp_path, fake))
    assert result.exit_code == 0, result.output
    assert "short URL:     https://mch.example.cn/h5/s/" in result.output
    assert f"WeChat QR:     {fake.base_url}/cgi-bin/showqrcode?ticket=" in result.output


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["--hospital", "nowhere"], "unknown-hospital"),
        (["--hospital", "b"], "no-public-base-url"),
        (["--hospital", "b", "--base-url", "mch.example.cn"], "bad-base-url"),
        (["--hospital", "a", "--department", "儿科"], "source-invalid"),
        (["--hospital", "a", "--doctor", "dr-nobody"], "source-invalid"),
        (["--hospital", "a", "--campaign", "开放日"], "source-invalid"),
        (["--hospital", "a", "--campaign", "开放日", "--days", "45"], "source-invalid"),
    ],
)
def test_bad_requests_exit_1_with_their_code_and_write_nothing(
    env: dict[str, str], args: list[str], code: str
) -> None:
    result = _run(env, "create", *args)
    assert result.exit_code == 1, result.output
    assert f"error: {code}: " in result.output
    assert _json(_run(env, "list", "--hospital", "a", "--format", "json")) == []


def test_a_usage_error_exits_2(env: dict[str, str]) -> None:
    assert _run(env, "create", "--hospital", "a", "--days", "many").exit_code == 2
    assert _run(env, "create").exit_code == 2


def test_wechat_refusing_leaves_nothing_written(
    env: dict[str, str], tmp_path: Path, fake: FakeProviders
) -> None:
    refused = _run(
        {**env, "TEST_WX_SECRET": "wrong"}, "create", "--hospital", "a", "--config", _channels(tmp_path, fake)
    )
    assert refused.exit_code == 1 and "error: wechat-qr-failed: " in refused.output
    unset = _run(
        env, "create", "--hospital", "a", "--config", _channels(tmp_path, fake, secret_env="UNSET_VARIABLE")
    )
    assert unset.exit_code == 1 and "error: wechat-config: " in unset.output
    assert _json(_run(env, "list", "--hospital", "a", "--format", "json")) == []


def test_list_shows_each_source_with_its_counts(env: dict[str, str]) -> None:
    poster = _json(_run(env, "create", "--hospital", "a", "--format", "json"))
    card = _json(_run(env, "create", "--hospital", "a", "--doctor", "dr-li", "--format", "json"))
    db = Database(env["CAREPATH_DATABASE_URL"])
    with db.transaction() as session:
        found = sources.find_by_code(session, card["code"])
        assert found is not None
        sources.record_scan(session, found, sources.HOW_LINK, NOW)
        sources.record_scan(session, found, sources.HOW_WECHAT_QR, NOW, openid_hash="h")
        sources.record_follow(session, found, NOW, openid_hash="h")
    db.dispose()
    listed = _json(_run(env, "list", "--hospital", "a", "--format", "json"))
    assert [(row["code"], row["counts"]) for row in listed] == [
        (poster["code"], {"scans": 0, "follows": 0, "registrations": 0}),
        (card["code"], {"scans": 2, "follows": 1, "registrations": 0}),
    ]
    text = _run(env, "list", "--hospital", "a")
    assert text.exit_code == 0
    lines = text.output.splitlines()
    assert lines[0].split() == ["code", "kind", "scans", "follows", "registered", "what"]
    assert lines[2].split()[:6] == [card["code"], "permanent", "2", "1", "0", "李医生"]
    assert _run(env, "list", "--hospital", "nowhere").output.startswith("error: unknown-hospital: ")
