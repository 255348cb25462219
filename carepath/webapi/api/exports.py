"""Spreadsheet files for staff: CSV (UTF-8 with BOM) and XLSX, in bounded memory.

Cells that a spreadsheet would read as a formula (text starting with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return) are prefixed with ``'`` (OWASP, CSV injection): an export
opens as data, never as something that computes or fetches.
"""

from __future__ import annotations

import csv
import io
import re
import tempfile
from collections.abc import Iterable, Iterator
from typing import IO, Any

import xlsxwriter

#: Excel opens a CSV as UTF-8 only when it starts with the byte order mark.
BOM = "\ufeff"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: Rows per sheet Excel can hold, the header included.
XLSX_MAX_ROWS = 1_048_576
CHUNK = 64 * 1024
CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


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


def _xlsx_text(value: Any) -> Any:
    # Control characters have no place in a cell: dropped before the formula check.
    return neutralised(CONTROL_CHARACTERS.sub("", value)) if isinstance(value, str) else value


def xlsx_file(header: list[str], rows: Iterable[list[Any]], sheet: str) -> tuple[IO[bytes], int]:
    """The workbook written to a temporary file and the number of data rows; the caller
    streams and closes the file. XlsxWriter's constant-memory mode flushes each row to disk
    as it is written, and every text goes in as a string, never as a formula or a link."""
    out = tempfile.TemporaryFile()  # noqa: SIM115 - the caller streams it, then closes it
    try:
        workbook = xlsxwriter.Workbook(
            out,
            {
                "constant_memory": True,
                "strings_to_formulas": False,
                "strings_to_urls": False,
                "strings_to_numbers": False,
            },
        )
        worksheet = workbook.add_worksheet(sheet)
        worksheet.write_row(0, 0, [_xlsx_text(h) for h in header])
        count = 0
        for row in rows:
            count += 1
            worksheet.write_row(count, 0, [_xlsx_text(v) for v in row])
        workbook.close()
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
