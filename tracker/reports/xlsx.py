"""A small streaming XLSX (Office Open XML) writer for plain tables.

Why not openpyxl here: its write-only mode spends ~7 µs of CPU per cell (cell objects,
style look-ups, one XML element per cell). The attendee list of a 100,000-person event
is ~1.5 million cells: 12 s of CPU with openpyxl, even with lxml, on this machine class
(16-22 s of wall time on a busy machine, over the 15 s budget); this writer formats each
row as one string and streams it into the zip member, and the whole export takes ~3 s
of CPU.
openpyxl still reads these files back in the tests, and LibreOffice opens them.

What it writes, and all it writes: one sheet per table; a bold header row, frozen
(panes split below it); an auto-filter over the table; column widths from the header and
the first rows; inline strings; integers and floats as numbers; `Percent` as a number
with a percentage format; naive datetimes as date-time serial numbers with a date-time
format (aware ones are first converted to `zone`); None and "" as an empty cell.
"""

from __future__ import annotations

import io
import itertools
import math
import re
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any
from xml.sax.saxutils import escape, quoteattr
from zoneinfo import ZoneInfo

MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SHEET_TITLE_MAX = 31
CELL_TEXT_MAX = 32767  # Excel's limit for one cell
WIDTH_SAMPLE = 200  # rows looked at to size the columns
WIDTH_MAX = 60
ROWS_PER_WRITE = 500
EXCEL_EPOCH = datetime(1899, 12, 30)  # serial 0 (it absorbs Excel's 1900 leap-year bug)

# Style ids, in cellXfs order in STYLES below.
BOLD, DATETIME, PERCENT = 1, 2, 3
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


def column_letter(number: int) -> str:
    """1 -> A, 27 -> AA."""
    letters = ""
    while number:
        number, rest = divmod(number - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


# Characters XML 1.0 cannot carry at all (dropped), and those to escape. A carriage
# return is escaped: a parser would otherwise read it back as a line feed.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_SPECIAL = re.compile("[&<>\r\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"}


def xml_text(value: str) -> str:
    value = value[:CELL_TEXT_MAX]
    if _SPECIAL.search(value) is None:  # the usual case: nothing to do
        return value
    return "".join(_ENTITIES.get(c, c) for c in _NOT_XML.sub("", value))


def _width(value: Any) -> int:
    if isinstance(value, datetime):
        return 19
    if isinstance(value, Percent):
        return 7
    return len(str(value)) if value is not None else 0


class _RowWriter:
    """Formats rows of values as <row> elements."""

    def __init__(self, zone: ZoneInfo | None, text: Callable[[str], str]) -> None:
        self.zone = zone
        self.text = text
        self.letters: list[str] = []

    def cell(self, ref: str, value: Any, style: int = 0) -> str:
        kind = type(value)
        if kind is str:
            text = xml_text(self.text(value))
            s = f' s="{style}"' if style else ""
            return f'<c r="{ref}"{s} t="inlineStr"><is><t xml:space="preserve">{text}</t></is></c>'
        if kind is int:
            return f'<c r="{ref}"><v>{value}</v></c>'
        if kind is datetime:
            if value.tzinfo is not None:
                if self.zone is None:
                    raise ValueError("an aware datetime needs the zone to show it in")
                value = value.astimezone(self.zone).replace(tzinfo=None)
            serial = (value - EXCEL_EPOCH).total_seconds() / 86400
            return f'<c r="{ref}" s="{DATETIME}"><v>{serial!r}</v></c>'
        if kind is bool:
            return f'<c r="{ref}" t="b"><v>{int(value)}</v></c>'
        if isinstance(value, float | int):
            number = float(value)
            if not math.isfinite(number):  # no way to write it: an empty cell
                return ""
            s = f' s="{PERCENT}"' if isinstance(value, Percent) else ""
            return f'<c r="{ref}"{s}><v>{number!r}</v></c>'
        return self.cell(ref, str(value), style)

    def row(self, number: int, values: Sequence[Any], style: int = 0) -> str:
        letters = self.letters
        if len(values) > len(letters):
            letters.extend(column_letter(n) for n in range(len(letters) + 1, len(values) + 1))
        cells = "".join(
            self.cell(f"{letters[n]}{number}", value, style)
            for n, value in enumerate(values)
            if value is not None and value != ""
        )
        return f'<row r="{number}">{cells}</row>'


def _write_sheet(part: IO[bytes], sheet: Sheet, writer: _RowWriter) -> int:
    """The worksheet XML; returns the number of data rows."""
    rows = iter(sheet.rows)
    sample = list(itertools.islice(rows, WIDTH_SAMPLE))
    ncols = max(len(sheet.columns), 1)
    widths = [
        min(max([len(h), *(_width(r[n]) for r in sample if n < len(r))]) + 2, WIDTH_MAX)
        for n, h in enumerate(sheet.columns)
    ]
    cols = "".join(
        f'<col min="{n}" max="{n}" width="{w}" customWidth="1"/>' for n, w in enumerate(widths, 1)
    )
    part.write(
        (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            f'<worksheet xmlns="{_MAIN}" xmlns:r="{_REL}">'
            '<sheetViews><sheetView workbookViewId="0">'
            '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
            '<selection pane="bottomLeft" activeCell="A2" sqref="A2"/>'
            "</sheetView></sheetViews>"
            '<sheetFormatPr defaultRowHeight="15"/>'
            + (f"<cols>{cols}</cols>" if cols else "")
            + "<sheetData>"
            + writer.row(1, list(sheet.columns), BOLD)
        ).encode("utf-8")
    )
    count = 0
    chunk: list[str] = []
    for row in itertools.chain(sample, rows):
        count += 1
        chunk.append(writer.row(count + 1, row))
        if len(chunk) == ROWS_PER_WRITE:
            part.write("".join(chunk).encode("utf-8", "replace"))
            chunk = []
    part.write("".join(chunk).encode("utf-8", "replace"))
    ref = f"A1:{column_letter(ncols)}{count + 1}"
    part.write(f'</sheetData><autoFilter ref="{ref}"/></worksheet>'.encode())
    return count


def workbook(
    sheets: Iterable[Sheet],
    *,
    zone: ZoneInfo | None = None,
    text: Callable[[str], str] = str,
) -> bytes:
    """The .xlsx file of `sheets`. `text` is applied to every string cell (headers
    included) before it is written; aware datetimes are shown in `zone`."""
    writer = _RowWriter(zone, text)
    out = io.BytesIO()
    entries = []  # (title, ref of its table)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as package:
        taken: set[str] = set()
        for n, sheet in enumerate(sheets, 1):
            title = sheet_title(sheet.title, taken)
            with package.open(f"xl/worksheets/sheet{n}.xml", "w") as part:
                count = _write_sheet(part, sheet, writer)
            last = column_letter(max(len(sheet.columns), 1))
            entries.append((title, f"$A$1:${last}${count + 1}"))
        package.writestr("[Content_Types].xml", _content_types(len(entries)))
        package.writestr("_rels/.rels", _ROOT_RELS)
        package.writestr("xl/workbook.xml", _workbook(entries))
        package.writestr("xl/_rels/workbook.xml.rels", _workbook_rels(len(entries)))
        package.writestr("xl/styles.xml", STYLES)
    return out.getvalue()


# --- the package's fixed parts --------------------------------------------------------

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'

_ROOT_RELS = (
    f'{_HEAD}<Relationships xmlns="{_PKG_REL}">'
    f'<Relationship Id="rId1" Type="{_REL}/officeDocument" Target="xl/workbook.xml"/>'
    "</Relationships>"
)

STYLES = (
    f'{_HEAD}<styleSheet xmlns="{_MAIN}">'
    '<numFmts count="2">'
    f'<numFmt numFmtId="164" formatCode="{DATETIME_FORMAT}"/>'
    f'<numFmt numFmtId="165" formatCode="{PERCENT_FORMAT}"/>'
    "</numFmts>"
    '<fonts count="2">'
    '<font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
    "</fonts>"
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="4">'
    '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    "</cellXfs>"
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)


def _content_types(count: int) -> str:
    sheet_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
    sheets = "".join(
        f'<Override PartName="/xl/worksheets/sheet{n}.xml" ContentType="{sheet_type}"/>'
        for n in range(1, count + 1)
    )
    office = "application/vnd.openxmlformats-officedocument.spreadsheetml"
    return (
        f"{_HEAD}"
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" '
        'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/xl/workbook.xml" ContentType="{office}.sheet.main+xml"/>'
        f'<Override PartName="/xl/styles.xml" ContentType="{office}.styles+xml"/>'
        f"{sheets}</Types>"
    )


def _workbook(entries: list[tuple[str, str]]) -> str:
    """The sheets, and each one's filtered range (Excel's hidden _FilterDatabase name)."""
    sheets = "".join(
        f'<sheet name={quoteattr(title)} sheetId="{n}" r:id="rId{n}"/>'
        for n, (title, _ref) in enumerate(entries, 1)
    )
    filters = "".join(
        f'<definedName name="_xlnm._FilterDatabase" localSheetId="{n}" hidden="1">'
        + escape("'" + title.replace("'", "''") + "'!" + ref)
        + "</definedName>"
        for n, (title, ref) in enumerate(entries)
    )
    return (
        f'{_HEAD}<workbook xmlns="{_MAIN}" xmlns:r="{_REL}">'
        '<bookViews><workbookView activeTab="0"/></bookViews>'
        f"<sheets>{sheets}</sheets>"
        + (f"<definedNames>{filters}</definedNames>" if filters else "")
        + "</workbook>"
    )


def _workbook_rels(count: int) -> str:
    sheets = "".join(
        f'<Relationship Id="rId{n}" Type="{_REL}/worksheet" Target="worksheets/sheet{n}.xml"/>'
        for n in range(1, count + 1)
    )
    return (
        f'{_HEAD}<Relationships xmlns="{_PKG_REL}">{sheets}'
        f'<Relationship Id="rId{count + 1}" Type="{_REL}/styles" Target="styles.xml"/>'
        "</Relationships>"
    )
