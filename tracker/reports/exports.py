"""Data exports: the headcount, the attendee list, the check-in log (CSV or XLSX) and the
PDF documents written elsewhere (the report, the sign-in sheets).

One code path for the `tracker export` command and the organiser's download: parse the
options (`parse_options`), then `EXPORTS[what].render(db, event, options)` gives
(filename, mimetype, bytes). A refused option is an `ExportError` (a 400, or one line
on the command line).

Formula injection: in CSV, every string cell that a spreadsheet could read as a formula
(one beginning with =, +, -, @, tab, carriage return, line feed or NUL) gets a leading
single quote, as OWASP recommends, since CSV has no types and a spreadsheet guesses. In
XLSX a text cell is typed as a string (tracker.reports.xlsx writes it with write_string,
never as a formula), which no spreadsheet evaluates: it keeps its exact value, with no
quote ("-Ministère" stays "-Ministère"). Numbers and dates are numbers and dates.
Times are shown in the event's time zone.

The attendee list and the check-in log are streamed from SQL, one plain row at a time
(no ORM objects), into CSV or into a streaming XLSX writer (tracker.reports.xlsx): a
100,000-person event takes seconds and a few tens of MiB.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, NamedTuple
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from flask_babel import pgettext
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session as DbSession

from tracker.checkin import conflicts
from tracker.checkin.services import SCAN_LABELS
from tracker.door.services import NO_EMAIL_DOMAIN
from tracker.errors import DomainError
from tracker.events.services import session_filter
from tracker.i18n import lazy_gettext as _l
from tracker.models import (
    CheckIn,
    CheckInConflict,
    Event,
    Organisation,
    OrganisationType,
    Question,
    Registration,
    ScanLog,
    Session,
    User,
    registration_sessions,
)
from tracker.questions.answers import answer_text, answers_of, option_counts
from tracker.registration.forms import SOURCE_LABELS, STATUS_LABELS, TYPE_SHORT_LABELS
from tracker.reports import xlsx
from tracker.reports.report import render_report
from tracker.reports.services import ENTRANCE, figures
from tracker.reports.signin import render_signin
from tracker.reports.xlsx import Percent

FORMATS = ("csv", "xlsx", "pdf")
MIMETYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": xlsx.MIMETYPE,
    "pdf": "application/pdf",
}
SEPARATORS = (",", ";")
BOM = b"\xef\xbb\xbf"
STREAM_BATCH = 2000  # rows fetched at a time from a server-side cursor


# --- errors -------------------------------------------------------------------------


class ExportError(DomainError):
    code = "bad_export"
    status = 400


# --- cells --------------------------------------------------------------------------

FORMULA_STARTS = frozenset("=+-@\t\r\n\x00")


def neutralise(value: Any) -> Any:
    """A string that a spreadsheet would read as a formula, with a leading single
    quote (OWASP's advice against CSV injection). Anything else is returned as is:
    a negative number stays a number."""
    if isinstance(value, str) and value and value[0] in FORMULA_STARTS:
        return "'" + value
    return value


def percent(value: float | None) -> Percent | None:
    return None if value is None else Percent(value)


@dataclass
class Table:
    """One table of an export: a sheet in XLSX, a block in CSV. `rows` may be a
    generator: it is read once."""

    title: str
    columns: list[str]
    rows: Iterable[Sequence[Any]]


def _local(value: datetime, zone: ZoneInfo) -> datetime:
    """A stored (aware UTC) time as the naive wall-clock time of the event."""
    return value.astimezone(zone).replace(tzinfo=None)


# --- CSV ----------------------------------------------------------------------------


def write_csv(
    tables: Sequence[Table], *, zone: ZoneInfo, bom: bool = False, separator: str = ","
) -> bytes:
    """UTF-8 CSV; several tables follow one another, each under a title row, with an
    empty row between them. With the ';' separator decimals take a comma, as the
    spreadsheets that expect ';' (French Excel) read them."""
    if separator not in SEPARATORS:
        raise ExportError(_l("The separator must be “,” or “;”."))
    decimal_comma = separator == ";"

    def cell(value: Any) -> Any:
        if value is None:
            return ""
        if isinstance(value, str):
            return neutralise(value)
        if isinstance(value, datetime):
            return _local(value, zone).isoformat(sep=" ", timespec="seconds")
        if isinstance(value, float) and decimal_comma:
            return repr(float(value)).replace(".", ",")
        return value

    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=separator)
    titled = len(tables) > 1
    for n, table in enumerate(tables):
        if n:
            writer.writerow([])
        if titled:
            writer.writerow([neutralise(table.title)])
        writer.writerow([neutralise(c) for c in table.columns])
        writer.writerows([cell(v) for v in row] for row in table.rows)
    # (a lone surrogate, which only a direct database write could leave, becomes "?")
    return (BOM if bom else b"") + out.getvalue().encode("utf-8", "replace")


# --- XLSX ---------------------------------------------------------------------------


def write_xlsx(tables: Sequence[Table], *, zone: ZoneInfo) -> bytes:
    """One sheet per table (tracker.reports.xlsx): bold header row frozen below it, an
    auto-filter over the table, dates as dates in the event's time zone, numbers as
    numbers, strings as string cells with their exact value (a string cell is never
    evaluated, so it needs no quote)."""
    return xlsx.workbook((xlsx.Sheet(t.title, t.columns, t.rows) for t in tables), zone=zone)


# --- options ------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    format: str
    session_id: int | None = None
    bom: bool = False
    separator: str = ","


class Rendered(NamedTuple):
    filename: str
    mimetype: str
    body: bytes


def parse_options(
    what: str | None,
    fmt: str | None,
    *,
    session: str | int | None = None,
    bom: str | bool | None = None,
    separator: str | None = None,
) -> tuple[Export, Options]:
    """The export and its options from what a person typed (query string or command
    line); what depends on the event is checked by Export.render."""
    export = EXPORTS.get(what or "")
    if export is None:
        raise ExportError(
            _l(
                "Unknown export “%(what)s”: choose %(choices)s.",
                what=what or "",
                choices=", ".join(EXPORTS),
            )
        )
    session_id: int | None = None
    if isinstance(session, int):
        session_id = session
    elif session:
        try:
            session_id = int(session)
        except ValueError:
            raise ExportError(_l("This session is not part of the event.")) from None
    if isinstance(bom, str):
        if bom not in ("", "0", "1"):
            raise ExportError(_l("The byte-order mark option must be 1 or 0."))
        bom = bom == "1"
    separator = separator or ","
    if separator not in SEPARATORS:
        raise ExportError(_l("The separator must be “,” or “;”."))
    return export, Options(
        format=fmt or "", session_id=session_id, bom=bool(bom), separator=separator
    )


# --- the exports --------------------------------------------------------------------


class Export:
    """An export: `render` gives (filename, mimetype, bytes). CSV and XLSX come from
    `tables`; a PDF from `pdf`."""

    identifier: ClassVar[str]
    label: ClassVar[Any]
    formats: ClassVar[tuple[str, ...]] = ("csv", "xlsx")
    per_session: ClassVar[bool] = False  # takes a session

    def render(
        self,
        db: DbSession,
        event: Event,
        options: Options,
        *,
        progress: Callable[[int, int], None] | None = None,
    ) -> Rendered:
        """The file; `progress(done, total)` is told the rows written (a PDF: 0, then
        all of them once it is made)."""
        self.check(event, options)
        total = self.size(db, event, options) if progress is not None else 0
        tables = self.tables(db, event) if options.format != "pdf" else []
        if progress is not None:
            counted = _Counted(progress, total)
            tables = [counted.table(table) for table in tables]
            progress(0, total)
        if options.format == "pdf":
            body = self.pdf(db, event, options)
        elif options.format == "csv":
            body = write_csv(
                tables,
                zone=ZoneInfo(event.timezone),
                bom=options.bom,
                separator=options.separator,
            )
        else:
            body = write_xlsx(tables, zone=ZoneInfo(event.timezone))
        if progress is not None:
            progress(total, total)
        return Rendered(self.filename(event, options), MIMETYPES[options.format], body)

    def size(self, db: DbSession, event: Event, options: Options) -> int:
        """How many rows (people, for a PDF) the export has: what makes it a long job."""
        return 0

    def check(self, event: Event, options: Options) -> None:
        if options.format not in self.formats:
            raise ExportError(
                _l(
                    "The %(what)s export comes as %(formats)s, not “%(format)s”.",
                    what=self.identifier,
                    formats=", ".join(self.formats),
                    format=options.format,
                )
            )
        if options.session_id is not None:
            if not self.per_session:
                raise ExportError(_l("Only the sign-in sheet can be made for one session."))
            session_filter(event, options.session_id)

    def filename(self, event: Event, options: Options) -> str:
        return f"{self.identifier}-{event.slug}.{options.format}"

    def tables(self, db: DbSession, event: Event) -> list[Table]:
        raise NotImplementedError

    def pdf(self, db: DbSession, event: Event, options: Options) -> bytes:
        raise NotImplementedError


PROGRESS_EVERY = 1000  # rows between two reports of progress


class _Counted:
    """Tables whose rows are counted as they are written, `progress` told every
    PROGRESS_EVERY rows."""

    def __init__(self, progress: Callable[[int, int], None], total: int) -> None:
        self.progress, self.total, self.written = progress, total, 0

    def table(self, table: Table) -> Table:
        return Table(table.title, table.columns, self._rows(table.rows))

    def _rows(self, rows: Iterable[Sequence[Any]]) -> Iterator[Sequence[Any]]:
        for row in rows:
            self.written += 1
            if self.written % PROGRESS_EVERY == 0:
                self.progress(min(self.written, self.total), self.total)
            yield row


def _labels(labels: dict[Any, Any]) -> dict[Any, str]:
    """Translated once per export, not once per row."""
    return {key: str(label) for key, label in labels.items()}


class Headcount(Export):
    identifier = "headcount"
    label = _l("Headcount")
    formats = ("csv", "xlsx", "pdf")

    def pdf(self, db: DbSession, event: Event, options: Options) -> bytes:
        return render_report(db, event)

    def tables(self, db: DbSession, event: Event) -> list[Table]:
        result = figures(db, event, arrivals=False, sort="name")
        types = _labels(TYPE_SHORT_LABELS)
        totals = result.totals
        registered, present = _("Registered"), _("Present")
        # Before the event starts, nobody is absent yet (tracker.reports.services).
        if result.started:
            no_show, no_show_rate = _("No-show"), _("No-show rate")
        else:
            no_show, no_show_rate = _("Not arrived yet"), _("Share not arrived yet")
        # TRANSLATORS: headers over numbers of people (not one person's status)
        confirmed = pgettext("people", "Confirmed")
        summary = Table(
            _("Summary"),
            [_("Figure"), _("Value")],
            [
                (registered, totals.registered),
                (confirmed, totals.confirmed),
                (pgettext("people", "Waitlisted"), totals.waitlisted),
                (pgettext("people", "Cancelled"), totals.cancelled),
                (present, totals.present),
                (no_show, totals.no_show),
                (_("Present rate"), percent(totals.present_rate)),
                (no_show_rate, percent(totals.no_show_rate)),
                (_("Cancellation rate"), percent(totals.cancellation_rate)),
            ],
        )
        by_type = Table(
            _("By organisation type"),
            [_("Type"), registered, confirmed, present, no_show, no_show_rate],
            [
                (
                    types[kind],
                    line.registered,
                    line.confirmed,
                    line.present,
                    line.no_show,
                    percent(line.no_show_rate),
                )
                for kind, line in result.by_type.items()
            ],
        )
        by_organisation = Table(
            _("By organisation"),
            [_("Organisation"), _("Type"), registered, present, no_show],
            [
                (line.name, types[line.type], line.registered, line.present, line.no_show)
                for line in result.by_organisation
            ],
        )
        by_session = Table(
            _("By session"),
            [_("Session"), registered, present, _("Present, not registered")],
            [
                (line.title, line.registered, line.present, line.present_unregistered)
                for line in result.by_session
            ],
        )
        cross_columns = [_("Type")]
        for line in result.by_session:
            cross_columns += [
                _("%(session)s: registered", session=line.title),
                _("%(session)s: present", session=line.title),
            ]
        cross = Table(
            _("Type × session"),
            cross_columns,
            [
                [types[kind]]
                + [
                    n
                    for line in result.by_session
                    for n in (line.by_type[kind].registered, line.by_type[kind].present)
                ]
                for kind in OrganisationType
            ],
        )
        tables = [summary, by_type, by_organisation, by_session, cross]
        counts = option_counts(db, event)
        if counts:  # the caterer's headcount: how many chose each option
            tables.append(
                Table(
                    _("Answers"),
                    [_("Question"), _("Answer"), confirmed, present],
                    [
                        (count.question.label, option.text, option.confirmed, option.present)
                        for count in counts
                        for option in count.options
                    ],
                )
            )
        return tables


def _registrations(db: DbSession, event: Event) -> int:
    return db.scalar(select(func.count()).where(Registration.event_id == event.id)) or 0


class Attendees(Export):
    identifier = "attendees"
    label = _l("Attendees")

    def size(self, db: DbSession, event: Event, options: Options) -> int:
        return _registrations(db, event)

    def tables(self, db: DbSession, event: Event) -> list[Table]:
        sessions = list(event.sessions)
        entrance = _("Entrance")
        columns = [
            _("ID"),
            _("First name"),
            _("Last name"),
            _("E-mail address"),
            _("Organisation"),
            _("Type"),
            _("Job title"),
            _("Status"),
            _("Source"),
            _("Registered at"),
            _("Cancelled at"),
            _("Badges printed"),
            _("%(session)s: checked in at", session=entrance),
        ]
        for s in sessions:
            columns += [
                # TRANSLATORS: a column of Yes/No (the headcount's is a number of people)
                pgettext("yes or no", "%(session)s: registered", session=s.title),
                _("%(session)s: checked in at", session=s.title),
            ]
        questions = list(event.questions)
        columns += [q.label for q in questions]  # each question's answers, in order
        rows = self.rows(db, event, sessions)
        if questions:
            rows = with_answers(db, questions, rows)
        return [Table(_("Attendees"), columns, rows)]

    def rows(self, db: DbSession, event: Event, sessions: list[Session]) -> Iterator[list[Any]]:
        """One row per registration, from one query: check-in times pivoted per scope
        and session choices pivoted per session, each grouped by registration."""
        times = [
            func.max(case((CheckIn.scope == scope, CheckIn.checked_in_at))).label(f"t{n}")
            for n, scope in enumerate([ENTRANCE, *(s.id for s in sessions)])
        ]
        checkins = (
            select(CheckIn.registration_id, *times)
            .where(CheckIn.event_id == event.id)
            .group_by(CheckIn.registration_id)
            .subquery()
        )
        link = registration_sessions.c
        chosen_columns = [
            func.max(case((link.session_id == s.id, 1), else_=0)).label(f"s{n}")
            for n, s in enumerate(sessions)
        ]
        chosen = (
            select(link.registration_id, *chosen_columns)
            .join(Registration, Registration.id == link.registration_id)
            .where(Registration.event_id == event.id)
            .group_by(link.registration_id)
            .subquery()
        )
        stmt = (
            select(
                Registration.id,
                Registration.first_name,
                Registration.last_name,
                Registration.email,
                Organisation.name,
                Registration.organisation_type,
                Registration.job_title,
                Registration.status,
                Registration.source,
                Registration.created_at,
                Registration.cancelled_at,
                Registration.badge_print_count,
                *(checkins.c[f"t{n}"] for n in range(len(sessions) + 1)),
                *(chosen.c[f"s{n}"] for n in range(len(sessions))),
            )
            .join(Organisation, Organisation.id == Registration.organisation_id)
            .outerjoin(checkins, checkins.c.registration_id == Registration.id)
            .outerjoin(chosen, chosen.c.registration_id == Registration.id)
            .where(Registration.event_id == event.id)
            .order_by(Registration.id)
            .execution_options(stream_results=True, yield_per=STREAM_BATCH)
        )
        types = _labels(TYPE_SHORT_LABELS)
        statuses = _labels(STATUS_LABELS)
        sources = _labels(SOURCE_LABELS)
        yes, no = _("Yes"), _("No")
        no_email = "@" + NO_EMAIL_DOMAIN
        count = len(sessions)
        for row in db.execute(stmt):
            (rid, first, last, email, organisation, kind, job, status, source) = row[:9]
            line = [
                rid,
                first,
                last,
                None if email.lower().endswith(no_email) else email,
                organisation,
                types[kind],
                job,
                statuses[status],
                sources[source],
                row[9],  # registered at
                row[10],  # cancelled at
                row[11],  # badges printed
                row[12],  # entrance
            ]
            session_times = row[13 : 13 + count]
            for n in range(count):
                line.append(yes if row[13 + count + n] else no)
                line.append(session_times[n])
            yield line


def with_answers(
    db: DbSession, questions: list[Question], rows: Iterable[list[Any]]
) -> Iterator[list[Any]]:
    """The rows (a registration id first) with a cell per question added: the answer's
    text (several options joined). The answers are read STREAM_BATCH registrations at a
    time, as the rows stream: not one query per row, nor every answer at once."""
    batch: list[list[Any]] = []

    def flush() -> Iterator[list[Any]]:
        found = answers_of(db, [row[0] for row in batch])
        for row in batch:
            mine = found.get(row[0], {})
            yield row + [answer_text(q, mine.get(q.id)) or None for q in questions]
        batch.clear()

    for row in rows:
        batch.append(row)
        if len(batch) >= STREAM_BATCH:
            yield from flush()
    if batch:
        yield from flush()


class CheckinLog(Export):
    identifier = "checkins"
    label = _l("Check-in log")

    def size(self, db: DbSession, event: Event, options: Options) -> int:
        return db.scalar(select(func.count()).where(ScanLog.event_id == event.id)) or 0

    def tables(self, db: DbSession, event: Event) -> list[Table]:
        columns = [
            _("Time"),
            _("Door"),
            _("Account"),
            _("Result"),
            _("Registration ID"),
            _("Name"),
            _("Code typed"),
            _("Session"),
            _("Scanned on the device"),
        ]
        tables = [Table(_("Check-in log"), columns, self.rows(db, event))]
        found = conflicts.conflicts(db, event)
        if found:  # (a log without any keeps its one table, as it always had)
            tables.append(
                Table(_("Checked in twice offline"), conflict_columns(), conflict_rows(found))
            )
        return tables

    def rows(self, db: DbSession, event: Event) -> Iterator[list[Any]]:
        stmt = (
            select(
                ScanLog.at,
                ScanLog.door,
                User.email,
                ScanLog.result,
                ScanLog.registration_id,
                Registration.first_name,
                Registration.last_name,
                ScanLog.code,
                ScanLog.session_title,
                Session.title,
                ScanLog.scanned_at,
            )
            .outerjoin(User, User.id == ScanLog.user_id)
            .outerjoin(Registration, Registration.id == ScanLog.registration_id)
            .outerjoin(Session, Session.id == ScanLog.session_id)
            .where(ScanLog.event_id == event.id)
            .order_by(ScanLog.at, ScanLog.id)
            .execution_options(stream_results=True, yield_per=STREAM_BATCH)
        )
        results = _labels(SCAN_LABELS)
        entrance = _("Entrance")
        for row in db.execute(stmt):
            at, door, account, result, rid, first, last, code, then, title, scanned = row
            yield [
                at,
                door,
                account,
                results.get(result, result),
                rid,
                f"{first} {last}" if rid is not None and first is not None else None,
                code,
                # Its title now; the title at the scan if it has been deleted since.
                title or then or entrance,
                scanned,  # sent after a network cut: the device's time of the scan
            ]


def conflict_columns() -> list[str]:
    return [
        _("Registration ID"),
        _("Name"),
        _("Session"),
        _("Door that stands"),
        _("Time at that door"),
        _("Duplicate door"),
        _("Time at the duplicate door"),
        _("Recorded"),
    ]


def conflict_rows(found: Iterable[CheckInConflict]) -> Iterator[list[Any]]:
    """People checked in at two doors that were both offline: the first by time stands."""
    entrance = _("Entrance")
    for c in found:
        yield [
            c.registration_id,
            c.registration.full_name,
            c.session_title or entrance,
            c.kept_door,
            c.kept_at,
            c.duplicate_door,
            c.duplicate_at,
            c.recorded_at,
        ]


class SigninSheet(Export):
    identifier = "signin"
    label = _l("Sign-in sheet")
    formats = ("pdf",)
    per_session = True

    def filename(self, event: Event, options: Options) -> str:
        if options.session_id is None:
            return f"signin-{event.slug}.pdf"
        return f"signin-{event.slug}-session-{options.session_id}.pdf"

    def size(self, db: DbSession, event: Event, options: Options) -> int:
        return _registrations(db, event)

    def pdf(self, db: DbSession, event: Event, options: Options) -> bytes:
        return render_signin(db, event, session_id=options.session_id)


EXPORTS: dict[str, Export] = {
    export.identifier: export for export in (Headcount(), Attendees(), CheckinLog(), SigninSheet())
}
