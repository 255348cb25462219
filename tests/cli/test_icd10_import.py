from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from carepath.cli import cli
from tests.cli.test_store_commands import env  # noqa: F401
from tests.conftest import ROOT

EXAMPLE = ROOT / "examples" / "icd10" / "hospital-catalogue.csv"


def _ready(runner: CliRunner) -> None:
    assert runner.invoke(cli, ["db", "upgrade"]).exit_code == 0
    assert runner.invoke(cli, ["hospital", "create", "h1", "--name", "一院"]).exit_code == 0


def _count(directory: Path) -> int:
    import sqlite3

    with sqlite3.connect(directory / "cli.db") as conn:
        return int(conn.execute("SELECT count(*) FROM icd10_codes").fetchone()[0])


def test_import_reports_mapping_and_unmapped_codes_and_is_repeatable(env: Path) -> None:  # noqa: F811
    runner = CliRunner()
    _ready(runner)
    first = runner.invoke(cli, ["icd10", "import", "--hospital", "h1", str(EXAMPLE)])
    assert first.exit_code == 0, first.output
    assert f"{EXAMPLE}:11: warning: icd10-unmapped: X99.001" in first.output
    assert "10 added, 0 updated, 0 unchanged, 0 removed; 9 mapped to a WHO code, 1 unmapped" in first.output
    again = runner.invoke(cli, ["icd10", "import", "--hospital", "h1", str(EXAMPLE)])
    assert again.exit_code == 0 and "0 added, 0 updated, 10 unchanged" in again.output
    assert _count(env) == 10


def test_gbk_file_from_excel_is_read(env: Path) -> None:  # noqa: F811
    runner = CliRunner()
    _ready(runner)
    gbk = env / "gbk.csv"
    gbk.write_bytes("编码,名称\r\nO24.401,妊娠期糖尿病\r\n".encode("gbk"))
    result = runner.invoke(cli, ["icd10", "import", "--hospital", "h1", str(gbk)])
    assert result.exit_code == 0, result.output
    assert "(gb18030)" in result.output and "1 mapped" in result.output


def test_a_bad_row_anywhere_writes_nothing(env: Path) -> None:  # noqa: F811
    runner = CliRunner()
    _ready(runner)
    assert runner.invoke(cli, ["icd10", "import", "--hospital", "h1", str(EXAMPLE)]).exit_code == 0
    bad = env / "bad.csv"
    bad.write_text("code,name\nO24.401,改名\n" + "O30.001,双胎\n" * 2, encoding="utf-8")
    result = runner.invoke(cli, ["icd10", "import", "--hospital", "h1", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}:4: duplicate-code: O30.001 is also on line 3" in result.output
    assert "nothing imported" in result.output and "Traceback" not in result.output
    assert _count(env) == 10  # the earlier catalogue is untouched


def test_unknown_hospital_exits_1(env: Path) -> None:  # noqa: F811
    runner = CliRunner()
    _ready(runner)
    result = runner.invoke(cli, ["icd10", "import", "--hospital", "nowhere", str(EXAMPLE)])
    assert result.exit_code == 1 and "unknown-hospital" in result.output
