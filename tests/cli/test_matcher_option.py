"""``--matcher`` / ``CAREPATH_MATCHER`` choose the matcher at the CLI edge, not in the engine."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from carepath.cli import cli, matcher_kind


def _chosen(args: list[str]) -> str:
    ctx = cli.make_context("carepath", [*args, "pathway"])
    with ctx:
        ctx.invoke(cli.callback, **ctx.params)
        return matcher_kind(ctx)


def test_compiled_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CAREPATH_MATCHER", raising=False)
    assert _chosen([]) == "compiled"


def test_environment_selects_durable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAREPATH_MATCHER", "durable")
    assert _chosen([]) == "durable"


def test_option_overrides_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAREPATH_MATCHER", "durable")
    assert _chosen(["--matcher", "compiled"]) == "compiled"


def test_unknown_matcher_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["pathway", "--help"], env={"CAREPATH_MATCHER": "drools"})
    assert result.exit_code == 2
    assert "drools" in result.output
