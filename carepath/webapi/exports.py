"""Spreadsheet files for staff: CSV (UTF-8 with BOM) and XLSX, in bounded memory.

Cells that a spreadsheet would read as a formula (text starting with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return) are prefixed with ``'`` (OWASP, CSV injection): an export
opens as data, never as something that computes or fetches.
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterable, Iterator
from typing import IO, Any

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

#: Excel opens a CSV as UTF-8 only when it starts with the byte order mark.
BOM = "\ufeff"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: Rows per sheet Excel can hold, the header included.
XLSX_MAX_ROWS = 1_048_576
CHUNK = 64 * 1024


def neutralised(value: Any) -> Any:
    """``value`` with a formula-looking text made plain by a leading apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_chunks(header: list[str], rows: Iterable[list[Any]]) -> Iterator[str]:
    """The CSV text in pieces of about ``CHUNK`` characters, BOM first; rows read lazily."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    buffer.write(BOM)
    writer.writerow([neutralised(h) for h in header])
    for row in rows:
        writer.writerow(["" if v is None else neutralised(v) for v in row])
        if buffer.tell() >= CHUNK:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def xlsx_file(header: list[str], rows: Iterable[list[Any]], sheet: str) -> tuple[IO[bytes], int]:
    """The workbook written to a temporary file (write-only mode: rows go to disk as they come)
    and the number of data rows; the caller streams and closes the file."""

    def cell(value: Any) -> Any:
        # Control characters are not allowed in XLSX cells: dropped, never an error.
        return ILLEGAL_CHARACTERS_RE.sub("", value) if isinstance(value, str) else value

    workbook = Workbook(write_only=True)
    worksheet = workbook.create_sheet(sheet)
    worksheet.append([neutralised(h) for h in header])
    count = 0
    for row in rows:
        worksheet.append([neutralised(cell(v)) for v in row])
        count += 1
    out = tempfile.TemporaryFile()  # noqa: SIM115 - the caller streams it, then closes it
    try:
        workbook.save(out)
    except BaseException:
        out.close()
        raise
    out.seek(0)
    return out, count


def file_chunks(file: IO[bytes]) -> Iterator[bytes]:
    """The file's bytes in ``CHUNK`` pieces, closing it at the end."""
    with file:
        while chunk := file.read(CHUNK):
            yield chunk
