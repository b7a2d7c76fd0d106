"""Importing a list of invitees (CSV or XLSX) into an event.

One service for the organiser's page (preview, then import) and for
`tracker import SLUG FILE [--dry-run]`. The header row names the columns with the
registration form's field names or their French names as a French office writes them
(Prénom, Nom, Courriel, Organisme, Type, Fonction, Sessions: see HEADERS), compared
folded (tracker.text.fold: any case, with or without accents, spaces around them); every
row is checked with the online form's own
validators, so a list accepts exactly what a person could type. A preview is the
import itself run inside a savepoint that is rolled back: it shows exactly what
the import will do (who is confirmed, who is waitlisted, who is refused and why).
Addresses already registered for the event, cancelled ones included, are skipped:
importing the same file twice adds nobody twice.

A CSV file is decoded as its bytes say: UTF-8 (with or without its BOM) first, since a
valid UTF-8 text with accents is almost never meant as anything else; UTF-16 (little or
big endian) when it starts with its BOM ("Unicode text" from Excel); otherwise Windows-1252,
what French Excel writes for "CSV (separator: semicolon)". Windows-1252 is read rather than
Latin-1 because it is the same for every printable Latin-1 character and adds, where
Latin-1 has only invisible control codes (0x80-0x9F), the characters French text needs
(Œ œ ’ € …). A text that still holds NUL or those control codes is not a list of names
(a binary file, UTF-16 without its BOM): it is refused as a whole with a clear message.

A file comes from outside and is read in a child process (tracker.limited) stopped after
IMPORT_TIMEOUT seconds or beyond IMPORT_MEMORY_LIMIT MiB. A workbook is checked before
openpyxl opens it: what its members declare and what they really unpack to (counted as
they are unpacked) must stay under IMPORT_MAX_UNZIPPED_MB and a compression ratio no
spreadsheet reaches. Then at most MAX_LINES lines (empty ones included), MAX_COLUMNS
columns and MAX_CELLS filled cells are read, and a CSV line is at most MAX_LINE_CHARS long.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import unicodedata
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import openpyxl
from flask import current_app, has_app_context
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy.orm import Session as DbSession
from werkzeug.datastructures import MultiDict

from config import LIMIT_DEFAULTS
from tracker import audit, limited
from tracker.errors import AlreadyRegistered, DomainError
from tracker.i18n import lazy_gettext as _l
from tracker.models import (
    Event,
    OrganisationType,
    Question,
    QuestionKind,
    RegistrationSource,
    User,
)
from tracker.questions.answers import NO, YES, is_asked
from tracker.questions.services import clean_answer
from tracker.registration import identity, services
from tracker.text import fold

COLUMNS = (
    "first_name",
    "last_name",
    "email",
    "organisation",
    "organisation_type",
    "job_title",
    "sessions",
    "locale",
)
REQUIRED_COLUMNS = COLUMNS[:5]
# The names a header cell may give each column, compared folded (tracker.text.fold): the
# form's field names, the English ones that the exports write, and the French ones.
HEADERS = {
    "first_name": ("first_name", "first name", "prénom"),
    "last_name": ("last_name", "last name", "nom", "nom de famille"),
    "email": (
        "email",
        "e-mail",
        "e-mail address",
        "email address",
        "courriel",
        "adresse électronique",
        "adresse e-mail",
        "adresse mail",
        "mail",
    ),
    "organisation": ("organisation", "organization", "organisme"),
    "organisation_type": (
        "organisation_type",
        "organisation type",
        "organization type",
        "type",
        "type d'organisme",
        "type d'organisation",
        "type de structure",
    ),
    "job_title": ("job_title", "job title", "fonction", "poste"),
    "sessions": ("sessions", "session"),
    # The language of the person's e-mails (fr, en...; default: the app's).
    "locale": ("locale", "language", "langue"),
}
_COLUMN_OF_HEADER = {fold(name): column for column, names in HEADERS.items() for name in names}
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_NOT_TEXT = re.compile("[\x00\x80-\x9f]")  # NUL, and what Latin-1 leaves invisible
MAX_ROWS = 10_000
MAX_COLUMNS = 100  # of a line; more are ignored
MAX_LINES = 5 * MAX_ROWS  # read, empty ones included
MAX_CELLS = MAX_ROWS * MAX_COLUMNS  # read that hold a value
MAX_LINE_CHARS = 100_000  # of a line of a CSV file
MAX_COMPRESSION_RATIO = 100  # of a workbook's member (spreadsheets stay far below)
RATIO_GRACE = 1024 * 1024  # bytes a member may unpack to before its ratio counts
SESSION_SEPARATORS = re.compile(r"[;|]")
EXTENSIONS = (".csv", ".xlsx")
WORKBOOK_SIGNATURES = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0")  # .xlsx (zip), old .xls

limited.preload(__name__)


class ImportFileError(DomainError):
    """The file as a whole cannot be read: nothing is imported."""

    code = "import_file"
    status = 400
    field = "file"


@dataclass
class Row:
    line: int  # as a spreadsheet numbers it: the header is line 1 (usually)
    values: dict[str, str]


@dataclass
class Table:
    rows: list[Row]
    ignored_columns: list[str] = field(default_factory=list)
    separator: str | None = None  # CSV only


@dataclass
class ImportedRow:
    line: int
    name: str
    email: str
    organisation: str
    organisation_type: str
    sessions: list[str]
    status: str  # confirmed or waitlisted


@dataclass
class SkippedRow:
    line: int
    email: str


@dataclass
class RefusedRow:
    line: int
    label: str  # the address or the name, to find the row again
    reasons: list[str]


@dataclass
class ImportReport:
    imported: list[ImportedRow] = field(default_factory=list)
    already: list[SkippedRow] = field(default_factory=list)
    refused: list[RefusedRow] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    dry_run: bool = False

    @property
    def confirmed(self) -> int:
        return sum(1 for r in self.imported if r.status == services.CONFIRMED.value)

    @property
    def waitlisted(self) -> int:
        return sum(1 for r in self.imported if r.status == services.WAITLISTED.value)

    def counts(self) -> dict[str, int]:
        return {
            "imported": len(self.imported),
            "confirmed": self.confirmed,
            "waitlisted": self.waitlisted,
            "already_registered": len(self.already),
            "refused": len(self.refused),
        }


# --- reading the file ---------------------------------------------------------------


def read_table(filename: str, content: bytes, questions: dict[str, str] | None = None) -> Table:
    """The rows of a CSV (UTF-8, UTF-16 or Windows-1252; `,` `;` or tab separated) or
    XLSX file, as {column: text}, read in a child process under the import limits.
    `questions`: more columns, {folded header: column name} (an event's questions, by
    their label: question_columns). Raises ImportFileError for a file that cannot be
    read as a whole."""
    name = filename.lower()
    if name.endswith(".xlsx"):
        kind = "xlsx"
    elif name.endswith(".csv") or name.endswith(".txt"):
        kind = "csv"
    else:
        raise ImportFileError(_l("Choose a .csv or .xlsx file."))
    config = current_app.config if has_app_context() else LIMIT_DEFAULTS
    limits = limited.Limits(
        timeout=float(config["IMPORT_TIMEOUT"]), memory_mib=int(config["IMPORT_MEMORY_LIMIT"])
    )
    max_unzipped = int(config["IMPORT_MAX_UNZIPPED_MB"])
    try:
        table = limited.run_one(
            _read_in_child,
            kind,
            content,
            max_unzipped,
            questions or {},
            limits=limits,
            what="Reading a list",
        )
    except limited.TimeLimitExceeded:
        raise ImportFileError(
            _l(
                "Reading this file took longer than %(seconds)s seconds and was stopped: "
                "check that it is the list of invitees, or split it into several files.",
                seconds=f"{limits.timeout:g}",
            )
        ) from None
    except limited.MemoryLimitExceeded:
        raise ImportFileError(
            _l(
                "Reading this file needed more than %(mib)d MiB of memory and was stopped: "
                "check that it is the list of invitees, or split it into several files.",
                mib=limits.memory_mib,
            )
        ) from None
    if isinstance(table, _Refused):
        raise ImportFileError(table.message)
    return table


@dataclass
class _Refused:
    message: object  # a lazy translated message, translated in the parent


def _read_in_child(
    kind: str, content: bytes, max_unzipped_mb: int, questions: dict[str, str]
) -> Table | _Refused:
    """Runs in the child: the table, or why the file is refused."""
    try:
        if kind == "xlsx":
            return _read_xlsx(content, max_unzipped_mb * 1024 * 1024, questions)
        return _read_csv(content, questions)
    except ImportFileError as e:
        return _Refused(e.message)


def _read_csv(content: bytes, questions: dict[str, str] | None = None) -> Table:
    if content.startswith(WORKBOOK_SIGNATURES):
        raise ImportFileError(
            _l(
                "This file is a workbook, not CSV text: name it .xlsx, or save it as "
                "“CSV UTF-8”, and try again."
            )
        )
    text = _decoded(content)
    for number, line in enumerate(text.splitlines(), start=1):
        if len(line) > MAX_LINE_CHARS:
            raise ImportFileError(
                _l(
                    "Line %(line)d is longer than %(max)d characters: check that this file "
                    "is the list of invitees.",
                    line=number,
                    max=MAX_LINE_CHARS,
                )
            )
    first_line = next((line for line in text.splitlines() if line.strip()), "")
    separator = max([",", ";", "\t"], key=first_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator, strict=False)

    def lines() -> Iterator[tuple[int, list[Any]]]:
        previous = 0
        try:
            for record in reader:
                yield previous + 1, record
                previous = reader.line_num
        except csv.Error as e:
            raise ImportFileError(
                _l(
                    "Line %(line)d cannot be read as CSV (%(reason)s).",
                    line=previous + 1,
                    reason=str(e),
                )
            ) from None

    table = _table(lines(), questions)
    table.separator = separator
    return table


def _decoded(content: bytes) -> str:
    """The text of a CSV file: UTF-8 (BOM or not), UTF-16 with its BOM, else
    Windows-1252 (see the module's docstring). Refused if it holds NUL or invisible
    control codes: then it is not text saved by a spreadsheet."""
    if content.startswith(UTF16_BOMS):
        try:
            text = content.decode("utf-16")  # the BOM gives the byte order
        except UnicodeDecodeError:
            text = "\x00"  # a broken UTF-16 file: refused below
    else:
        try:
            text = content.decode("utf-8-sig")
        except UnicodeDecodeError:
            try:
                text = content.decode("cp1252")
            except UnicodeDecodeError:  # one of the 5 bytes Windows-1252 leaves unused
                text = content.decode("latin-1")
    if _NOT_TEXT.search(text):
        raise ImportFileError(
            _l(
                "This file does not read as text: it holds control characters (such as "
                "NUL) that no list of names has. In your spreadsheet, save it as “CSV "
                "UTF-8” (or as .xlsx) and try again."
            )
        )
    return text


def _check_archive(content: bytes, max_unzipped: int) -> None:
    """Refuses a workbook that would unpack to more than `max_unzipped` bytes, or whose
    members are packed far more tightly than a spreadsheet can be: first from what the
    members declare, then by unpacking them and counting, in case they lie."""
    unreadable = _l("This file cannot be read as an Excel workbook (.xlsx).")
    too_large = ImportFileError(
        _l(
            "This workbook holds more than %(mb)d MB once unpacked: keep only the list of "
            "invitees in it (one sheet, no pictures), or save it as CSV.",
            mb=max_unzipped // (1024 * 1024),
        )
    )
    packed = ImportFileError(
        _l(
            "This file is not an ordinary workbook: it unpacks to far more than a "
            "spreadsheet of its size can hold. Save the list again from your spreadsheet."
        )
    )
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
        members = archive.infolist()
    except MemoryError:
        raise  # the limit of the child, which says so
    except Exception:  # zipfile raises many kinds: any means unreadable
        raise ImportFileError(unreadable) from None
    if sum(m.file_size for m in members) > max_unzipped:
        raise too_large
    for member in members:
        if _too_packed(member.file_size, member.compress_size):
            raise packed
    total = 0
    for member in members:
        unpacked = 0
        try:
            with archive.open(member) as stream:
                while chunk := stream.read(64 * 1024):
                    unpacked += len(chunk)
                    total += len(chunk)
                    if total > max_unzipped:
                        raise too_large
                    if _too_packed(unpacked, member.compress_size):
                        raise packed
        except (ImportFileError, MemoryError):
            raise
        except Exception:  # a bad checksum, an unknown compression, a truncated member
            raise ImportFileError(unreadable) from None


def _too_packed(unpacked: int, compressed: int) -> bool:
    return unpacked > RATIO_GRACE and unpacked > MAX_COMPRESSION_RATIO * max(compressed, 1)


def _read_xlsx(content: bytes, max_unzipped: int, questions: dict[str, str] | None = None) -> Table:
    unreadable = _l("This file cannot be read as an Excel workbook (.xlsx).")
    _check_archive(content, max_unzipped)
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except MemoryError:
        raise
    except Exception:  # openpyxl and zipfile raise many kinds: any means unreadable
        raise ImportFileError(unreadable) from None
    try:
        sheet = workbook.worksheets[0] if workbook.worksheets else None
        if sheet is None:
            raise ImportFileError(_l("The file is empty."))

        sheet.reset_dimensions()  # some writers record wrong ones: read what is there

        def lines() -> Iterator[tuple[int, list[Any]]]:
            rows = sheet.iter_rows(values_only=True, max_col=MAX_COLUMNS)
            try:
                for number, values in enumerate(rows, start=1):
                    yield number, list(values)
            except MemoryError:
                raise
            except Exception:  # a damaged sheet: any error means unreadable
                raise ImportFileError(unreadable) from None

        return _table(lines(), questions)
    finally:
        workbook.close()


def _counted(lines: Iterable[tuple[int, list[Any]]]) -> Iterator[tuple[int, list[Any]]]:
    """The lines, their first MAX_COLUMNS cells, refused beyond MAX_LINES lines or
    MAX_CELLS filled cells."""
    cells = 0
    for read, (line, values) in enumerate(lines, start=1):
        if read > MAX_LINES:
            raise ImportFileError(
                _l(
                    "The file has more than %(max)d lines, empty ones included: split it "
                    "into several files.",
                    max=MAX_LINES,
                )
            )
        kept = values[:MAX_COLUMNS]
        cells += sum(1 for v in kept if v is not None and v != "")
        if cells > MAX_CELLS:
            raise ImportFileError(
                _l(
                    "The file has more than %(max)d filled cells: keep only the columns to "
                    "import, or split it into several files.",
                    max=MAX_CELLS,
                )
            )
        yield line, kept


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return str(value)


def _table(
    lines: Iterable[tuple[int, list[Any]]], questions: dict[str, str] | None = None
) -> Table:
    iterator = _counted(lines)
    header: list[str] | None = None
    for _line, values in iterator:
        cells = [_cell(v).strip().lstrip("\ufeff").strip() for v in values]
        if any(cells):
            header = cells
            break
    if header is None:
        raise ImportFileError(_l("The file is empty."))

    positions: dict[str, int] = {}
    ignored: list[str] = []
    for index, name in enumerate(header):
        column = _COLUMN_OF_HEADER.get(fold(name)) or (questions or {}).get(fold(name))
        if column is not None:
            if column in positions:
                raise ImportFileError(
                    _l(
                        "The column “%(name)s” appears twice in the first row.",
                        name=_shown(
                            column
                            if name == column or column.startswith("q_")
                            else f"{name} ({column})"
                        ),
                    )
                )
            positions[column] = index
        elif name:
            ignored.append(_shown(name))
    missing = [c for c in REQUIRED_COLUMNS if c not in positions]
    if missing:
        raise ImportFileError(
            _l(
                "Missing columns: %(missing)s. The first row must name the columns "
                "first_name, last_name, email, organisation, organisation_type, and "
                "optionally job_title and sessions (or, in French, Prénom, Nom, "
                "Courriel, Organisme, Type, Fonction and Sessions).",
                missing=", ".join(missing),
            )
        )

    rows: list[Row] = []
    for line, values in iterator:
        cells = [_cell(v) for v in values]
        if not any(c.strip() for c in cells):
            continue
        if len(rows) >= MAX_ROWS:
            raise ImportFileError(
                _l(
                    "The file has more than %(max)d rows: split it into several files.",
                    max=MAX_ROWS,
                )
            )
        rows.append(
            Row(
                line=line,
                values={
                    name: cells[index] if index < len(cells) else ""
                    for name, index in positions.items()
                },
            )
        )
    return Table(rows=rows, ignored_columns=ignored)


# --- checking a row -----------------------------------------------------------------


def _shown(value: str, limit: int = 40) -> str:
    """A value quoted back in a message: printable, and short."""
    printable = "".join("?" if unicodedata.category(c)[0] == "C" else c for c in value)
    return printable if len(printable) <= limit else printable[: limit - 1] + "…"


def _reason(column: str, message: object) -> str:
    return _("%(column)s: %(message)s", column=column, message=message)


def _session_ids(event: Event, cell: str) -> tuple[list[int], list[str]]:
    """The ids of the sessions named in a cell (ids or titles separated by ; or |)
    and the names that match no session of the event."""
    by_id = {str(s.id): s.id for s in event.sessions}
    by_title = {identity.organisation_key(s.title): s.id for s in event.sessions}
    ids: list[int] = []
    unknown: list[str] = []
    for part in SESSION_SEPARATORS.split(cell):
        name = part.strip()
        if not name:
            continue
        found = by_id.get(name) or by_title.get(identity.organisation_key(name))
        if found is None:
            unknown.append(name)
        elif found not in ids:
            ids.append(found)
    return ids, unknown


def _type_names() -> dict[str, OrganisationType]:
    """Folded name -> organisation type: its value ("cluster") and the labels the forms
    show for it, long and short, in every language of the app ("Pôle de compétitivité",
    "Ministère", "Région", "Agence", "Autre", "Public agency"...)."""
    from tracker.registration.forms import TYPE_LABELS, TYPE_SHORT_LABELS

    languages = tuple(current_app.config["LANGUAGES"])
    cached = _TYPE_NAMES.get(languages)
    if cached is None:
        cached = {fold(t.value): t for t in OrganisationType}
        for language in languages:
            with force_locale(language):
                for labels in (TYPE_LABELS, TYPE_SHORT_LABELS):
                    for kind, label in labels.items():
                        cached.setdefault(fold(str(label)), kind)
        _TYPE_NAMES[languages] = cached
    return cached


_TYPE_NAMES: dict[tuple[str, ...], dict[str, OrganisationType]] = {}


def _locale_names() -> dict[str, str]:
    """Folded name -> language code: the code ("fr") and the language's name in every
    language of the app ("français", "French", "anglais", "English"...)."""
    from babel import Locale

    languages = tuple(current_app.config["LANGUAGES"])
    names = {fold(code): code for code in languages}
    for code in languages:
        for shown_in in languages:
            name = Locale.parse(code).get_display_name(shown_in)
            if name:
                names.setdefault(fold(name), code)
    return names


def row_locale(values: dict[str, str]) -> tuple[str, list[str]]:
    """The language a row's `locale` cell names (the app's default when empty), and
    the reason it is refused when it names none of the app's languages."""
    default = current_app.config["BABEL_DEFAULT_LOCALE"]
    written = values.get("locale", "").strip()
    if not written:
        return default, []
    code = _locale_names().get(fold(written))
    if code is None:
        return default, [
            _reason(
                "locale",
                _(
                    "unknown language “%(value)s”: use %(languages)s.",
                    value=_shown(written),
                    languages=", ".join(current_app.config["LANGUAGES"]),
                ),
            )
        ]
    return code, []


def check_row(
    event: Event, values: dict[str, str]
) -> tuple[services.RegistrationData | None, list[str]]:
    """The registration a row describes, or the reasons it is refused. The fields go
    through the online form's validators (required, length, e-mail, control
    characters); the organisation type and the sessions are read more kindly
    (any case; session titles as well as ids)."""
    from tracker.registration.forms import EditRegistrationForm, registration_data

    locale, reasons = row_locale(values)
    written_type = values.get("organisation_type", "").strip()
    organisation_type = _type_names().get(fold(written_type))
    type_value = organisation_type.value if organisation_type else written_type.lower()
    valid_types = [t.value for t in OrganisationType]
    if not written_type:
        reasons.append(_reason("organisation_type", _("This field is required.")))
    elif organisation_type is None:
        reasons.append(
            _reason(
                "organisation_type",
                _(
                    "unknown type “%(value)s”: use %(types)s.",
                    value=_shown(values["organisation_type"].strip()),
                    types=", ".join(valid_types),
                ),
            )
        )
    session_ids, unknown = _session_ids(event, values.get("sessions", ""))
    if unknown:
        reasons.append(
            _reason(
                "sessions",
                _(
                    "no session of this event is called %(names)s.",
                    names=", ".join(f"“{_shown(n)}”" for n in unknown),
                ),
            )
        )

    formdata = MultiDict(
        {
            name: values.get(name, "")
            for name in ("first_name", "last_name", "email", "organisation", "job_title")
        }
    )
    formdata["organisation_type"] = type_value
    form = EditRegistrationForm(formdata=formdata, meta={"csrf": False})
    form.sessions.choices = []
    form.validate()
    for column in COLUMNS:
        if column in ("organisation_type", "locale"):
            continue
        for message in form.errors.get(column, []):
            reasons.append(_reason(column, message))
    answers = _answers(event, values, organisation_type, session_ids, reasons)
    if reasons:
        return None, reasons
    data = registration_data(form, locale=locale, session_ids=session_ids)
    data.answers = answers
    return data, []


# What a cell may say for yes and no (folded), in English and in French.
YES_WORDS = frozenset({"yes", "oui", "1", "true", "vrai"})
NO_WORDS = frozenset({"no", "non", "0", "false", "faux"})
CHOICE_SEPARATORS = re.compile(r"[;,]")


def question_columns(event: Event) -> dict[str, str]:
    """{folded header: `q_<id>`}: a column per question, headed by its label (the
    registration form's own columns come first when a label is also one of theirs)."""
    columns: dict[str, str] = {}
    for question in event.questions:
        columns.setdefault(fold(question.label), question.field_name)
    return columns


def _cell_values(question: Question, cell: str) -> list[str] | str:
    """The values a cell gives a question, or the reason it cannot be read."""
    text = cell.strip()
    if not text:
        return []
    kind = QuestionKind(question.kind)
    if kind is QuestionKind.YES_NO:
        word = fold(text)
        if word in YES_WORDS:
            return [YES]
        if word in NO_WORDS:
            return [NO]
        return _("“%(value)s” is not yes or no (oui/non, 1/0, true/false).", value=_shown(text))
    if kind not in (QuestionKind.CHOICE, QuestionKind.CHOICES):
        return [cell]
    options = {fold(o): o for o in question.choices}
    whole = options.get(fold(text))
    if whole is not None:
        return [whole]
    if kind is QuestionKind.CHOICE:
        parts = [text]
    else:
        parts = [p.strip() for p in CHOICE_SEPARATORS.split(text) if p.strip()]
    found = [options.get(fold(p)) for p in parts]
    unknown = [p for p, o in zip(parts, found, strict=True) if o is None]
    if unknown:
        return _(
            "%(names)s is not one of the options (%(options)s).",
            names=", ".join(f"“{_shown(n)}”" for n in unknown),
            options=", ".join(question.choices),
        )
    return [o for o in found if o is not None]


def _answers(
    event: Event,
    values: dict[str, str],
    organisation_type: OrganisationType | None,
    session_ids: list[int],
    reasons: list[str],
) -> dict[int, list[str]]:
    """The answers of a row's question columns that apply to the person; a cell that
    cannot be read, or an answer the question refuses, adds a reason."""
    answers: dict[int, list[str]] = {}
    for question in event.questions:
        if question.field_name not in values:
            continue  # no column: not asked by this list
        if not is_asked(question, organisation_type, session_ids):
            continue
        read = _cell_values(question, values[question.field_name])
        if isinstance(read, str):
            reasons.append(_reason(_shown(question.label), read))
            continue
        try:
            answers[question.id] = clean_answer(question, read)
        except DomainError as e:
            reasons.append(_reason(_shown(question.label), e.message))
    return answers


def _label(values: dict[str, str]) -> str:
    email = values.get("email", "").strip()
    if email:
        return _shown(email, 80)
    return _shown(f"{values.get('first_name', '')} {values.get('last_name', '')}".strip(), 80)


# --- the import -----------------------------------------------------------------------


def import_file(
    db: DbSession,
    event: Event,
    filename: str,
    content: bytes,
    *,
    actor: User | None,
    dry_run: bool = False,
    send_emails: bool = False,
    now: dt.datetime | None = None,
) -> ImportReport:
    """Import (or, with `dry_run`, preview) a list of invitees. Imported people get
    the source `import`, are confirmed while places remain and waitlisted after,
    and are e-mailed only with `send_emails`. Raises ImportFileError when the file
    cannot be read; refused rows are listed in the report with their reasons."""
    table = read_table(filename, content, question_columns(event))
    savepoint = db.begin_nested() if dry_run else None
    try:
        report = _import(db, event, table, actor=actor, send=send_emails and not dry_run, now=now)
        report.dry_run = dry_run
        if not dry_run:
            audit.record(
                db,
                actor=actor,
                action=audit.AuditAction.EVENT_IMPORT,
                event=event,
                changes={"file": _shown(filename, 200), **report.counts()},
            )
    finally:
        if savepoint is not None:
            savepoint.rollback()
    return report


def _import(
    db: DbSession,
    event: Event,
    table: Table,
    *,
    actor: User | None,
    send: bool,
    now: dt.datetime | None,
) -> ImportReport:
    report = ImportReport(ignored_columns=table.ignored_columns)
    seen: dict[str, int] = {}
    for row in table.rows:
        data, reasons = check_row(event, row.values)
        if data is None:
            report.refused.append(RefusedRow(row.line, _label(row.values), reasons))
            continue
        key = identity.email_key(data.email)
        if key in seen:
            report.refused.append(
                RefusedRow(
                    row.line,
                    _label(row.values),
                    [_reason("email", _("the same address as line %(line)d.", line=seen[key]))],
                )
            )
            continue
        seen[key] = row.line
        try:
            registration = services.add_registration(
                db,
                event,
                data,
                actor=actor,
                source=RegistrationSource.IMPORT,
                send_email=send,
                now=now,
            )
        except AlreadyRegistered:
            report.already.append(SkippedRow(row.line, _shown(data.email, 254)))
            continue
        except DomainError as e:
            message = e.message if not e.field else _reason(e.field, e.message)
            report.refused.append(RefusedRow(row.line, _label(row.values), [str(message)]))
            continue
        report.imported.append(
            ImportedRow(
                line=row.line,
                name=registration.full_name,
                email=registration.email,
                organisation=registration.organisation.name,
                organisation_type=registration.organisation_type.value,
                sessions=[s.title for s in registration.sessions],
                status=registration.status.value,
            )
        )
    return report
