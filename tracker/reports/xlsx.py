"""XLSX workbooks of plain tables, written by XlsxWriter in its constant-memory mode.

Why XlsxWriter rather than openpyxl (which still reads the XLSX lists of invitees, and
these files back in the tests): openpyxl's write-only mode spent 12-15 s of CPU on the
attendee list of a 100,000-person event (about 2 million cells), at or over the 15 s
budget on this machine class. XlsxWriter writes the same rows in about half of that,
a row at a time to a temporary file, so memory stays flat whatever the number of rows.

What it writes: one sheet per table; a bold header row, frozen (panes split below it);
an auto-filter over the table; column widths from the header and the first rows;
strings as strings, by write_string and with XlsxWriter's strings_to_formulas,
strings_to_numbers and strings_to_urls off, so that no text is ever turned into a
formula, a number or a link: a string cell is never evaluated by a spreadsheet and keeps
its exact value ("=1+1" is the text "=1+1", with no quote added); integers and floats
as numbers; `Percent` as a number with a percentage format; datetimes as dates with a
date-time format (aware ones first shown in `zone`); None and "" as an empty cell.
XML cannot carry NUL and most control characters: XlsxWriter escapes them (_x0000_),
and readers give them back.
"""

from __future__ import annotations

import io
import itertools
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import xlsxwriter
from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SHEET_TITLE_MAX = 31
CELL_TEXT_MAX = 32767  # Excel's limit for one cell
WIDTH_SAMPLE = 200  # rows looked at to size the columns
WIDTH_MAX = 60
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
PERCENT_FORMAT = "0.0%"


class Percent(float):
    """A rate (0.5 is 50 %): a number shown as a percentage."""


@dataclass
class Sheet:
    title: str
    columns: Sequence[str]
    rows: Iterable[Sequence[Any]]


_SHEET_TITLE_REFUSED = re.compile(r"[\[\]:*?/\\\x00-\x1f]")


def sheet_title(title: str, taken: set[str]) -> str:
    """A valid sheet title (at most 31 characters, none of []:*?/\\, not blank, no
    quote at either end), unique among `taken` (compared case-insensitively, as Excel
    does), which it joins."""
    base = _SHEET_TITLE_REFUSED.sub(" ", title).strip().strip("'").strip()
    base = base[:SHEET_TITLE_MAX].strip() or "Sheet"
    candidate, n = base, 1
    while candidate.casefold() in taken:
        n += 1
        suffix = f" ({n})"
        candidate = base[: SHEET_TITLE_MAX - len(suffix)].rstrip() + suffix
    taken.add(candidate.casefold())
    return candidate


def _width(value: Any) -> int:
    if isinstance(value, datetime):
        return 19
    if isinstance(value, Percent):
        return 7
    return len(str(value)) if value is not None else 0


@dataclass
class _Cells:
    """Writes one value into a cell by its type."""

    page: Worksheet
    zone: ZoneInfo | None
    text: Callable[[str], str]
    when: Format
    rate: Format

    def write(self, row: int, column: int, value: Any) -> None:
        kind = type(value)
        if value is None or value == "":
            return
        if kind is str:
            self.page.write_string(row, column, self.text(value)[:CELL_TEXT_MAX])
        elif kind is int or kind is bool:
            self.page.write_number(row, column, int(value))
        elif kind is datetime:
            if value.tzinfo is not None:
                if self.zone is None:
                    raise ValueError("an aware datetime needs the zone to show it in")
                value = value.astimezone(self.zone).replace(tzinfo=None)
            self.page.write_datetime(row, column, value, self.when)
        elif isinstance(value, float | int):
            if math.isfinite(value):  # an infinity cannot be written: an empty cell
                style = self.rate if kind is Percent else None
                self.page.write_number(row, column, float(value), style)
        else:
            self.page.write_string(row, column, self.text(str(value))[:CELL_TEXT_MAX])


def workbook(
    sheets: Iterable[Sheet],
    *,
    zone: ZoneInfo | None = None,
    text: Callable[[str], str] = str,
) -> bytes:
    """The .xlsx file of `sheets`. `text` is applied to every string cell (headers
    included) before it is written; aware datetimes are shown in `zone`."""
    out = io.BytesIO()
    book = xlsxwriter.Workbook(
        out,
        {
            "constant_memory": True,
            "strings_to_formulas": False,
            "strings_to_numbers": False,
            "strings_to_urls": False,
        },
    )
    bold = book.add_format({"bold": True})
    when = book.add_format({"num_format": DATETIME_FORMAT})
    rate = book.add_format({"num_format": PERCENT_FORMAT})
    taken: set[str] = set()
    for sheet in sheets:
        page = book.add_worksheet(sheet_title(sheet.title, taken))
        cells = _Cells(page, zone, text, when, rate)
        rows = iter(sheet.rows)
        sample = list(itertools.islice(rows, WIDTH_SAMPLE))
        for n, header in enumerate(sheet.columns):
            widest = max([len(header), *(_width(r[n]) for r in sample if n < len(r))])
            page.set_column(n, n, min(widest + 2, WIDTH_MAX))
            page.write_string(0, n, text(header)[:CELL_TEXT_MAX], bold)
        page.freeze_panes(1, 0)
        count = 0
        for count, values in enumerate(itertools.chain(sample, rows), 1):
            for n, value in enumerate(values):
                cells.write(count, n, value)
        page.autofilter(0, 0, count, max(len(sheet.columns), 1) - 1)
    book.close()
    return out.getvalue()
