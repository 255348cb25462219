"""A hospital's own ICD-10 catalogue: import it, and tell what a diagnosis code means.

Hospitals code diagnoses in their national clinical edition, which extends WHO codes
(``O24.401`` extends ``O24.4``, itself in category ``O24``). ``import_catalogue`` loads a
hospital's file in one transaction (every row checked first: one bad row and nothing is
written), replacing its earlier catalogue, and maps each code to the WHO code it extends by
prefix (``engine.icd10.who_code``). ``describe`` tells the events service what a posted code
is: its WHO code and name, or a warning when no WHO code is known for it. Unknown codes are
kept as received; pathways match them by prefix like any other.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from carepath.engine import icd10
from carepath.errors import CarepathError
from carepath.store.db import Database
from carepath.store.models import Hospital, Icd10Code
from carepath.store.tenants import UnknownHospitalError

#: Header names accepted for the two columns a hospital's file must have (exports of Chinese
#: HIS and coding tools name them in Chinese).
CODE_HEADERS = ("code", "icd10", "icd_code", "编码", "疾病编码", "诊断编码", "icd编码", "icd-10编码")
NAME_HEADERS = ("name", "title", "名称", "疾病名称", "诊断名称")
MAX_NAME = 200
MAX_ROWS = 200_000


@dataclass(frozen=True)
class FileProblem:
    line: int
    code: str
    message: str

    def located(self, path: str) -> str:
        return f"{path}:{self.line}: {self.code}: {self.message}"


class CatalogueFileError(CarepathError):
    """The file cannot be imported; ``problems`` locates each bad line."""

    code = "invalid-catalogue"

    def __init__(self, problems: list[FileProblem]) -> None:
        self.problems = problems
        super().__init__(problems[0].message)


@dataclass(frozen=True)
class CatalogueRow:
    line: int
    code: str
    name: str


@dataclass(frozen=True)
class ParsedFile:
    rows: list[CatalogueRow]
    encoding: str  # utf-8, utf-8-sig (Excel's "CSV UTF-8") or gb18030 (GBK)


@dataclass
class ImportReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    mapped: int = 0
    unmapped: list[CatalogueRow] = field(default_factory=list)


def decode(data: bytes) -> tuple[str, str]:
    """The text of a file and the encoding it was read in: UTF-8 (a BOM is dropped), else
    GB18030, the superset of GBK that Excel writes on a Chinese Windows."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8"), "utf-8-sig"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as utf8_error:
        try:
            return data.decode("gb18030"), "gb18030"
        except UnicodeDecodeError:
            line = data[: utf8_error.start].count(b"\n") + 1
            raise CatalogueFileError(
                [
                    FileProblem(
                        line,
                        "bad-encoding",
                        f"byte {utf8_error.start} is neither UTF-8 nor GBK/GB18030; "
                        "save the file as CSV UTF-8",
                    )
                ]
            ) from None


def _column(header: list[str], names: tuple[str, ...]) -> int | None:
    wanted = [h.strip().lower() for h in header]
    return next((wanted.index(n) for n in names if n in wanted), None)


def parse_file(data: bytes) -> ParsedFile:
    """The checked rows of a hospital's catalogue, or CatalogueFileError naming every bad line."""
    text, encoding = decode(data)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise CatalogueFileError([FileProblem(1, "bad-csv", str(exc))]) from None
    if header is None:
        raise CatalogueFileError(
            [FileProblem(1, "empty-file", "the file is empty; expected a header: code,name")]
        )
    code_at, name_at = _column(header, CODE_HEADERS), _column(header, NAME_HEADERS)
    if code_at is None or name_at is None:
        raise CatalogueFileError(
            [
                FileProblem(
                    1,
                    "missing-column",
                    f"the header needs a code and a name column (code,name), not {','.join(header)[:200]!r}",
                )
            ]
        )
    problems: list[FileProblem] = []
    rows: list[CatalogueRow] = []
    seen: dict[str, int] = {}
    try:
        for record in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in record):
                continue
            if len(rows) >= MAX_ROWS:
                problems.append(
                    FileProblem(line, "too-many-rows", f"a catalogue holds at most {MAX_ROWS} codes")
                )
                break
            if len(record) <= max(code_at, name_at):
                problems.append(
                    FileProblem(line, "missing-value", "the row has fewer columns than the header")
                )
                continue
            code, name = record[code_at].strip(), record[name_at].strip()
            if not icd10.CODE_PATTERN.match(code):
                problems.append(
                    FileProblem(
                        line,
                        "bad-icd10",
                        f"{code[:40]!r} is not an ICD-10 code: a capital letter, two digits, then a dot "
                        "and up to 8 letters or digits, such as O24.401",
                    )
                )
            elif code in seen:
                problems.append(FileProblem(line, "duplicate-code", f"{code} is also on line {seen[code]}"))
            else:
                seen[code] = line
            if not name:
                problems.append(FileProblem(line, "missing-name", f"{code[:40]} has no name"))
            elif len(name) > MAX_NAME:
                problems.append(
                    FileProblem(
                        line, "name-too-long", f"the name has {len(name)} characters; at most {MAX_NAME}"
                    )
                )
            rows.append(CatalogueRow(line, code, name))
    except csv.Error as exc:
        problems.append(FileProblem(reader.line_num, "bad-csv", str(exc)))
    if problems:
        raise CatalogueFileError(problems)
    if not rows:
        raise CatalogueFileError([FileProblem(1, "empty-file", "the file has a header but no codes")])
    return ParsedFile(rows, encoding)


def import_catalogue(db: Database, hospital_id: str, rows: list[CatalogueRow], now: datetime) -> ImportReport:
    """Replace ``hospital_id``'s catalogue with ``rows`` in one transaction: new codes added,
    changed names updated, codes no longer in the file removed; each mapped to its WHO code."""
    report = ImportReport()
    with db.transaction() as session:
        if session.get(Hospital, hospital_id) is None:
            raise UnknownHospitalError(f"no hospital {hospital_id}; create it first")
        existing = {
            row.code: row
            for row in session.execute(
                select(Icd10Code.id, Icd10Code.code, Icd10Code.name, Icd10Code.who_code).where(
                    Icd10Code.hospital_id == hospital_id
                )
            )
        }
        added: list[dict[str, object]] = []
        changed: list[dict[str, object]] = []
        for item in rows:
            who = icd10.who_code(item.code)
            if who is None:
                report.unmapped.append(item)
            else:
                report.mapped += 1
            row = existing.pop(item.code, None)
            if row is None:
                added.append(
                    {
                        "hospital_id": hospital_id,
                        "code": item.code,
                        "name": item.name,
                        "who_code": who,
                        "imported_at": now,
                    }
                )
            elif (row.name, row.who_code) != (item.name, who):
                changed.append({"id": row.id, "name": item.name, "who_code": who, "imported_at": now})
            else:
                report.unchanged += 1
        # Bulk statements: a national edition has tens of thousands of codes.
        if added:
            session.execute(insert(Icd10Code), added)
        if changed:
            session.execute(update(Icd10Code), changed)
        if existing:
            stale = [row.id for row in existing.values()]
            for start in range(0, len(stale), 1000):
                session.execute(delete(Icd10Code).where(Icd10Code.id.in_(stale[start : start + 1000])))
        report.added, report.updated, report.removed = len(added), len(changed), len(existing)
    return report


def import_file(db: Database, hospital_id: str, path: Path, now: datetime) -> tuple[ParsedFile, ImportReport]:
    parsed = parse_file(path.read_bytes())
    return parsed, import_catalogue(db, hospital_id, parsed.rows, now)


@dataclass(frozen=True)
class CodeInfo:
    code: str
    who_code: str | None
    name: str | None  # the hospital's own name for it (the built-in Chinese names are unverified)
    in_hospital_catalogue: bool


def describe(session: Session, hospital_id: str, code: str) -> CodeInfo:
    """What ``code`` is for ``hospital_id``: its own catalogue first, then the WHO catalogue."""
    row = session.execute(
        select(Icd10Code.who_code, Icd10Code.name).where(
            Icd10Code.hospital_id == hospital_id, Icd10Code.code == code
        )
    ).first()
    if row is not None:
        return CodeInfo(code, row.who_code, row.name, True)
    return CodeInfo(code, icd10.who_code(code), None, False)


def describe_many(session: Session, hospital_id: str, codes: Iterable[str]) -> dict[str, CodeInfo]:
    """``describe`` for several codes in one query (a batch's diagnoses, issue 22 item 1)."""
    wanted = set(codes)
    if not wanted:
        return {}
    own = {
        row.code: CodeInfo(row.code, row.who_code, row.name, True)
        for row in session.execute(
            select(Icd10Code.code, Icd10Code.who_code, Icd10Code.name).where(
                Icd10Code.hospital_id == hospital_id, Icd10Code.code.in_(wanted)
            )
        )
    }
    return {code: own.get(code) or CodeInfo(code, icd10.who_code(code), None, False) for code in wanted}


def warning_for(info: CodeInfo) -> dict[str, str] | None:
    """The answer's warning about a code no WHO code is known for (kept, matched by prefix)."""
    if info.who_code is not None:
        return None
    return {
        "code": "icd10-unknown",
        "icd10": info.code,
        "message": f"{info.code} extends no WHO ICD-10 code of the catalogue"
        + ("" if info.in_hospital_catalogue else " and is not in your hospital's catalogue")
        + "; it is kept as received and matched by prefix, so check it",
    }
