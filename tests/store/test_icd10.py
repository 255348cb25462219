"""A hospital's ICD-10 catalogue: file checks, the import, and what an event's code means."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from carepath.store import icd10
from carepath.store.models import Icd10Code
from tests.conftest import NOW, ROOT

EXAMPLE = ROOT / "examples" / "icd10" / "hospital-catalogue.csv"


def _db(app: Flask) -> Any:
    return app.extensions["carepath.db"]


def _codes(app: Flask, hospital: str) -> dict[str, tuple[str, str | None]]:
    with _db(app).reading() as session:
        rows = session.scalars(select(Icd10Code).where(Icd10Code.hospital_id == hospital))
        return {r.code: (r.name, r.who_code) for r in rows}


def test_excel_bom_and_gbk_files_read_the_same() -> None:
    text = EXAMPLE.read_text("utf-8")
    plain = icd10.parse_file(text.encode("utf-8"))
    bom = icd10.parse_file(b"\xef\xbb\xbf" + text.encode("utf-8"))
    gbk = icd10.parse_file(text.encode("gbk"))
    assert (plain.encoding, bom.encoding, gbk.encoding) == ("utf-8", "utf-8-sig", "gb18030")
    assert plain.rows == bom.rows == gbk.rows
    assert plain.rows[0] == icd10.CatalogueRow(2, "O24.401", "妊娠期糖尿病（示例）")


def test_chinese_headers_are_understood() -> None:
    parsed = icd10.parse_file("疾病编码,疾病名称,备注\nO24.401,妊娠期糖尿病,x\n".encode())
    assert [(r.code, r.name) for r in parsed.rows] == [("O24.401", "妊娠期糖尿病")]


def test_every_bad_line_is_located() -> None:
    data = b"code,name\nO24.401,a\n\nO2A.1,b\nO24.401,c\nO30.001,\nO44.1\n"
    with pytest.raises(icd10.CatalogueFileError) as caught:
        icd10.parse_file(data)
    assert [(p.line, p.code) for p in caught.value.problems] == [
        (4, "bad-icd10"),
        (5, "duplicate-code"),
        (6, "missing-name"),
        (7, "missing-value"),
    ]
    assert "also on line 2" in caught.value.problems[1].message


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "empty-file"),
        (b"code,name\n", "empty-file"),
        (b"icd,title_en\nO24.4,x\n", "missing-column"),
        (b"code,name\nO24.4,\xff\xfe\xff\n", "bad-encoding"),
    ],
)
def test_unusable_files_are_refused_with_a_code(data: bytes, code: str) -> None:
    with pytest.raises(icd10.CatalogueFileError) as caught:
        icd10.parse_file(data)
    assert caught.value.problems[0].code == code


def test_import_maps_by_prefix_and_reimport_replaces(app: Flask) -> None:
    parsed = icd10.parse_file(EXAMPLE.read_bytes())
    report = icd10.import_catalogue(_db(app), "a", parsed.rows, NOW)
    assert (report.added, report.mapped, [r.code for r in report.unmapped]) == (10, 9, ["X99.001"])
    codes = _codes(app, "a")
    assert codes["O24.401"] == ("妊娠期糖尿病（示例）", "O24.4")
    assert codes["O14.900x001"][1] == "O14.9" and codes["O48.001"][1] == "O48"
    assert codes["X99.001"][1] is None

    again = icd10.import_catalogue(_db(app), "a", parsed.rows, NOW)
    assert (again.added, again.updated, again.unchanged, again.removed) == (0, 0, 10, 0)

    changed = [icd10.CatalogueRow(2, "O24.401", "妊娠期糖尿病A1级"), icd10.CatalogueRow(3, "O99.001", "贫血")]
    third = icd10.import_catalogue(_db(app), "a", changed, NOW)
    assert (third.added, third.updated, third.unchanged, third.removed) == (0, 2, 0, 8)
    assert _codes(app, "a") == {"O24.401": ("妊娠期糖尿病A1级", "O24.4"), "O99.001": ("贫血", "O99.0")}
    assert _codes(app, "b") == {}  # another hospital's catalogue is its own


def test_import_for_an_unknown_hospital_writes_nothing(app: Flask) -> None:
    from carepath.store.tenants import UnknownHospitalError

    with pytest.raises(UnknownHospitalError):
        icd10.import_catalogue(_db(app), "nowhere", [icd10.CatalogueRow(2, "O24.401", "x")], NOW)


def test_describe_prefers_the_hospital_catalogue(app: Flask) -> None:
    icd10.import_catalogue(_db(app), "a", [icd10.CatalogueRow(2, "X99.001", "本院编码")], NOW)
    with _db(app).reading() as session:
        own = icd10.describe(session, "a", "X99.001")
        who = icd10.describe(session, "a", "O24.401")
        elsewhere = icd10.describe(session, "b", "X99.001")
    assert (own.in_hospital_catalogue, own.who_code, own.name) == (True, None, "本院编码")
    assert (who.in_hospital_catalogue, who.who_code) == (False, "O24.4")
    assert not elsewhere.in_hospital_catalogue
    warning = icd10.warning_for(own)
    assert warning is not None and warning["code"] == "icd10-unknown"
    assert icd10.warning_for(who) is None
