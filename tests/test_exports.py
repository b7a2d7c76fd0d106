"""Exports: the headcount, attendee list and check-in log in CSV and XLSX, against the
event whose figures are known (tests.conftest.attendance_event); formula injection;
the `tracker export` command and the organiser's download."""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import subprocess
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from tests.conftest import (
    attendance_event,
    csv_rows,
    csv_tables,
    login,
    make_event,
    make_registration,
    make_user,
    render_export,
)
from tracker.errors import DomainError
from tracker.models import Role
from tracker.reports.cli import export_command
from tracker.reports.exports import (
    BOM,
    Table,
    neutralise,
    parse_options,
    write_csv,
    write_xlsx,
)
from tracker.reports.xlsx import sheet_title

PARIS = ZoneInfo("Europe/Paris")
PAYLOADS = ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1", "\n=1", "\x00=1"]


def workbook(body: bytes):
    return load_workbook(io.BytesIO(body))


def sheet_rows(sheet) -> list[dict]:
    header, *rows = sheet.iter_rows(values_only=True)
    return [dict(zip(header, row, strict=True)) for row in rows]


def local(hour: int, minute: int) -> datetime:
    return datetime(2026, 12, 10, hour, minute)


@pytest.fixture
def event(db, app_ctx):
    return attendance_event(db)


def built(app, db, builder=attendance_event):
    """An event built in a request context that is gone afterwards: the command and
    the pages below must set up their own (language, user)."""
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        return builder(db)


# --- the headcount ---------------------------------------------------------------------


SUMMARY = [
    ["Registered", "8"],
    ["Confirmed", "6"],
    ["Waitlisted", "1"],
    ["Cancelled", "1"],
    ["Present", "3"],
    ["No-show", "3"],
    ["Present rate", "0.5"],
    ["No-show rate", "0.5"],
    ["Cancellation rate", "0.125"],
]


def test_headcount_csv_has_the_known_figures(db, event):
    filename, mimetype, body = render_export(db, event, "headcount", "csv")
    assert filename == "headcount-attendance.csv" and mimetype.startswith("text/csv")
    assert not body.startswith(BOM)
    tables = csv_tables(body)
    assert list(tables) == [
        "Summary",
        "By organisation type",
        "By organisation",
        "By session",
        "Type × session",
    ]
    assert tables["Summary"] == [["Figure", "Value"], *SUMMARY]
    assert tables["By organisation type"] == [
        ["Type", "Registered", "Confirmed", "Present", "No-show", "No-show rate"],
        ["Cluster", "3", "3", "2", "1", "0.3333"],
        ["Ministry", "2", "1", "0", "1", "1.0"],
        ["Region", "1", "1", "1", "0", "0.0"],
        ["Agency", "1", "1", "0", "1", "1.0"],
        ["Other", "0", "0", "0", "0", ""],
    ]
    assert tables["By organisation"] == [
        ["Organisation", "Type", "Registered", "Present", "No-show"],
        ["Aerospace Valley", "Cluster", "1", "1", "0"],
        ["Bpifrance", "Agency", "1", "0", "1"],
        ["DGE", "Ministry", "2", "0", "1"],
        ["Minalogic", "Cluster", "0", "0", "0"],
        ["Région Pays de la Loire", "Region", "1", "1", "0"],
        ["Vegepolys", "Cluster", "2", "1", "1"],
    ]
    assert tables["By session"] == [
        ["Session", "Registered", "Present", "Present, not registered"],
        ["Plénière", "4", "0", "0"],
        ["Table ronde 1", "2", "1", "0"],
        ["Table ronde 2", "0", "1", "1"],  # H, let in without registering for it
    ]
    header, *cross = tables["Type × session"]
    assert header[:3] == ["Type", "Plénière: registered", "Plénière: present"]
    assert header[5:] == ["Table ronde 2: registered", "Table ronde 2: present"]
    cross = {row[0]: row[1:] for row in cross}
    assert cross["Cluster"] == ["2", "0", "2", "1", "0", "0"]
    assert cross["Ministry"] == ["2", "0", "0", "0", "0", "0"]
    assert cross["Agency"] == ["0", "0", "0", "0", "0", "1"]


def test_headcount_xlsx_has_one_typed_sheet_per_table(db, event):
    filename, mimetype, body = render_export(db, event, "headcount", "xlsx")
    assert filename == "headcount-attendance.xlsx" and "spreadsheetml" in mimetype
    book = workbook(body)
    assert book.sheetnames == [
        "Summary",
        "By organisation type",
        "By organisation",
        "By session",
        "Type × session",
    ]
    summary = book["Summary"]
    assert [[c.value for c in row] for row in summary.iter_rows(min_row=2)] == [
        [label, float(value) if "." in value else int(value)] for label, value in SUMMARY
    ]
    assert type(summary["B2"].value) is int
    assert summary["B8"].number_format == "0.0%"
    for sheet in book.worksheets:
        assert sheet.freeze_panes == "A2"
        assert all(cell.font.b for cell in sheet[1])
        last = sheet.cell(1, sheet.max_column).column_letter
        assert sheet.auto_filter.ref == f"A1:{last}{sheet.max_row}"
    types = book["By organisation type"]
    assert types.auto_filter.ref == "A1:F6"
    assert [c.value for c in types[2]] == ["Cluster", 3, 3, 2, 1, pytest.approx(0.3333)]
    assert types["F6"].value is None  # no rate without anybody confirmed
    by_session = {row["Session"]: row for row in sheet_rows(book["By session"])}
    assert by_session["Table ronde 1"] == {
        "Session": "Table ronde 1",
        "Registered": 2,
        "Present": 1,
        "Present, not registered": 0,
    }


# --- attendees -------------------------------------------------------------------------


def test_attendees_csv_one_row_per_registration_with_times_per_session(db, event):
    filename, _mimetype, body = render_export(db, event, "attendees", "csv")
    assert filename == "attendees-attendance.csv"
    rows = csv_rows(body)
    assert [r["First name"] for r in rows] == ["A", "B", "C", "D", "E", "F", "H", "G"]
    assert len({r["ID"] for r in rows}) == 8
    people = {r["First name"]: r for r in rows}
    a, d, e, g, h = (people[n] for n in "ADEGH")
    assert a["E-mail address"] == "a@example.org" and a["Organisation"] == "Vegepolys"
    assert a["Type"] == "Cluster" and a["Status"] == "Confirmed" and a["Source"] == "Online"
    assert a["Job title"] == "Chargée de mission international"
    assert a["Entrance: checked in at"] == "2026-12-10 09:02:00"  # Paris time
    assert a["Plénière: registered"] == "Yes" and a["Plénière: checked in at"] == ""
    assert a["Table ronde 1: registered"] == "Yes"
    assert a["Table ronde 1: checked in at"] == "2026-12-10 10:01:00"
    assert a["Table ronde 2: registered"] == "No"
    assert h["Entrance: checked in at"] == ""
    assert h["Table ronde 2: registered"] == "No"
    assert h["Table ronde 2: checked in at"] == "2026-12-10 11:00:00"
    assert e["Entrance: checked in at"] == ""  # undone
    assert d["Status"] == "Cancelled" and d["Cancelled at"] != ""
    assert people["F"]["Status"] == "Waitlisted"
    assert g["Source"] == "Walk-in" and g["E-mail address"] == ""  # no e-mail given
    assert g["Entrance: checked in at"] == "2026-12-10 09:25:00"
    assert g["Type"] == "Region" and g["Organisation"] == "Région Pays de la Loire"
    assert all(r["Registered at"] for r in rows) and a["Badges printed"] == "0"


def test_attendees_xlsx_has_dates_and_numbers(db, event):
    book = workbook(render_export(db, event, "attendees", "xlsx").body)
    assert book.sheetnames == ["Attendees"]
    sheet = book["Attendees"]
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref == "A1:S9"
    assert all(cell.font.b for cell in sheet[1])
    people = {row["First name"]: row for row in sheet_rows(sheet)}
    a, h = people["A"], people["H"]
    assert type(a["ID"]) is int and type(a["Badges printed"]) is int
    assert a["Entrance: checked in at"] == local(9, 2)
    assert a["Table ronde 1: checked in at"] == local(10, 1)
    assert isinstance(a["Registered at"], datetime)
    assert h["Table ronde 2: checked in at"] == local(11, 0)
    assert h["Entrance: checked in at"] is None
    assert people["G"]["E-mail address"] is None
    assert sheet["M2"].is_date and "h" in sheet["M2"].number_format


def test_every_registration_is_exported_once(db, app_ctx):
    """Several check-ins and sessions per person must not multiply the rows."""
    event = make_event(db)
    sessions = [s.id for s in event.sessions]
    people = [make_registration(db, event, session_ids=sessions) for _ in range(3)]
    rows = csv_rows(render_export(db, event, "attendees", "csv").body)
    assert sorted(int(r["ID"]) for r in rows) == sorted(p.id for p in people)
    assert all(r["Table ronde 2: registered"] == "Yes" for r in rows)


# --- the check-in log -------------------------------------------------------------------


def test_checkin_log_keeps_refused_and_undone_scans(db, event):
    rows = csv_rows(render_export(db, event, "checkins", "csv").body)
    assert list(rows[0]) == [
        "Time",
        "Door",
        "Account",
        "Result",
        "Registration ID",
        "Name",
        "Code typed",
        "Session",
        "Scanned on the device",
    ]
    assert [r["Time"] for r in rows] == sorted(r["Time"] for r in rows)
    refused = [r for r in rows if r["Code typed"] == "NOSUCHCODE"]
    assert refused == [
        {
            "Time": "2026-12-10 09:30:00",
            "Door": "A",
            "Account": "",
            "Result": "Scan: unknown code",
            "Registration ID": "",
            "Name": "",
            "Code typed": "NOSUCHCODE",
            "Session": "Entrance",
            "Scanned on the device": "",
        }
    ]
    undone = [r for r in rows if r["Result"] == "Check-in undone"]
    assert [(u["Time"], u["Name"], u["Door"]) for u in undone] == [
        ("2026-12-10 09:16:00", "E Person E", "B")
    ]
    assert undone[0]["Registration ID"].isdigit()
    session_scans = [(r["Name"], r["Session"]) for r in rows if r["Session"] != "Entrance"]
    assert session_scans == [("A Person A", "Table ronde 1"), ("H Person H", "Table ronde 2")]

    book = workbook(render_export(db, event, "checkins", "xlsx").body)
    logged = sheet_rows(book["Check-in log"])
    assert len(logged) == len(rows)
    assert logged[0]["Time"] == local(9, 2) and type(logged[0]["Registration ID"]) is int


def test_scans_of_a_deleted_session_keep_its_title(db, app_ctx):
    from tracker.checkin.services import check_in, undo_check_in
    from tracker.organiser.services import delete_session, history

    event = make_event(db)
    session = event.sessions[-1]
    person = make_registration(db, event, session_ids=[])
    check_in(db, event, actor=None, door="Salle 2", code=person.checkin_code, session_id=session.id)
    undo_check_in(
        db, event, actor=None, door="Salle 2", code=person.checkin_code, session_id=session.id
    )
    title = session.title
    delete_session(db, session, actor=None)
    db.flush()
    db.expire_all()
    rows = csv_rows(render_export(db, event, "checkins", "csv").body)
    assert [(r["Result"], r["Session"]) for r in rows] == [
        ("Scan: checked in", title),
        ("Check-in undone", title),
    ]
    assert {item.session for item in history(db, person) if item.kind == "scan"} == {title}


# --- CSV options --------------------------------------------------------------------------


def test_byte_order_mark_and_semicolons_for_french_excel(db, event):
    plain = render_export(db, event, "headcount", "csv").body
    marked = render_export(db, event, "headcount", "csv", bom=True).body
    assert not plain.startswith(BOM) and marked == BOM + plain
    french = render_export(db, event, "headcount", "csv", separator=";").body
    assert french.splitlines()[1] == b"Figure;Value"
    summary = csv_tables(french, separator=";")["Summary"]
    assert ["Cancellation rate", "0,125"] in summary  # decimal comma with ';'
    rows = render_export(db, event, "attendees", "csv", separator=";").body.decode().splitlines()
    assert rows[0].startswith("ID;First name;Last name;")


# --- formula injection --------------------------------------------------------------------


def storable(db) -> list[str]:
    """PostgreSQL text cannot hold NUL at all: that payload is tested through the
    writers alone there (test_every_payload_through_the_writers)."""
    if db.get_bind().dialect.name == "postgresql":
        return [p for p in PAYLOADS if "\x00" not in p]
    return PAYLOADS


@pytest.fixture
def injected(db, app_ctx):
    """One registration per payload, with it in the names, job title and organisation
    (set on the model: the forms refuse control characters)."""
    event = make_event(db)
    for n, payload in enumerate(storable(db)):
        registration = make_registration(db, event, organisation=f"Organisation {n}")
        registration.first_name = registration.last_name = payload
        registration.job_title = payload
        registration.organisation.name = payload
    db.flush()
    return event


def in_xlsx(payload: str) -> str:
    """The payload as it sits in the file, unquoted (a string cell is never evaluated):
    XML cannot carry NUL or a bare carriage return, so the writer escapes them as OOXML
    says (_x0000_, _x000D_), which Excel and LibreOffice read back as the characters
    (openpyxl leaves them escaped)."""
    return xlsx_escaped(payload)


def xlsx_escaped(text: str) -> str:
    return re.sub("[\x00-\x08\x0b-\x1f]", lambda m: f"_x{ord(m.group()):04X}_", text)


def test_formula_payloads_are_neutralised_in_csv(db, injected):
    rows = csv_rows(render_export(db, injected, "attendees", "csv").body)
    for row, payload in zip(rows, storable(db), strict=True):
        for column in ("First name", "Last name", "Job title", "Organisation"):
            assert row[column] == "'" + payload, (column, payload)
    organisations = csv_tables(render_export(db, injected, "headcount", "csv").body)[
        "By organisation"
    ]
    assert sorted(row[0] for row in organisations[1:]) == sorted("'" + p for p in storable(db))


def test_formula_payloads_are_exact_strings_in_xlsx(db, injected):
    sheet = workbook(render_export(db, injected, "attendees", "xlsx").body)["Attendees"]
    header = [c.value for c in sheet[1]]
    columns = [header.index(c) for c in ("First name", "Last name", "Job title", "Organisation")]
    for row, payload in zip(list(sheet.iter_rows(min_row=2)), storable(db), strict=True):
        for index in columns:
            assert row[index].data_type == "s" and row[index].value == in_xlsx(payload), payload
    names = workbook(render_export(db, injected, "headcount", "xlsx").body)["By organisation"]
    values = [row[0] for row in names.iter_rows(min_row=2, values_only=True)]
    assert sorted(values) == sorted(in_xlsx(p) for p in storable(db))


def test_text_keeps_its_exact_value_in_xlsx_and_is_quoted_in_csv(db, app_ctx):
    """A French organisation written with a leading dash and a job title that looks like
    a formula: string cells in XLSX (never evaluated, so no quote), quoted in CSV."""
    event = make_event(db)
    make_registration(db, event, first_name="Œuvray", organisation="-Ministère", job_title="=1+1")
    sheet = workbook(render_export(db, event, "attendees", "xlsx").body)["Attendees"]
    (row,) = sheet_rows(sheet)
    assert row["Organisation"] == "-Ministère" and row["Job title"] == "=1+1"
    header = [c.value for c in sheet[1]]
    for column in ("Organisation", "Job title"):
        assert sheet.cell(2, header.index(column) + 1).data_type == "s"
    (line,) = csv_rows(render_export(db, event, "attendees", "csv").body)
    assert line["Organisation"] == "'-Ministère" and line["Job title"] == "'=1+1"


def test_libreoffice_reads_the_xlsx_text_as_written(db, app_ctx, tmp_path):
    """An independent spreadsheet converts the workbook to CSV: the text cells come out
    exactly, not evaluated (=1+1 is not 2) and without a quote."""
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        reason = "LibreOffice (soffice) is not installed: apt-get install libreoffice-calc-nogui"
        if os.environ.get("TRACKER_REQUIRE_LIBREOFFICE") == "1":
            pytest.fail(f"{reason} (TRACKER_REQUIRE_LIBREOFFICE=1)", pytrace=False)
        pytest.skip(reason)
    table = Table("People", ["Organisation", "Job title"], [("-Ministère", "=1+1")])
    (tmp_path / "people.xlsx").write_bytes(write_xlsx([table], zone=PARIS))
    subprocess.run(
        [
            soffice,
            "--headless",
            "--convert-to",
            "csv:Text - txt - csv (StarCalc):44,34,76",
            "--outdir",
            str(tmp_path),
            str(tmp_path / "people.xlsx"),
        ],
        check=True,
        capture_output=True,
        timeout=120,
        env={**os.environ, "HOME": str(tmp_path)},
    )
    rows = list(csv.reader(io.StringIO((tmp_path / "people.csv").read_text("utf-8"))))
    assert rows == [["Organisation", "Job title"], ["-Ministère", "=1+1"]]


def test_every_payload_through_the_writers():
    table = Table("=title", ["=header", "text"], [(n, p) for n, p in enumerate(PAYLOADS)])
    rows = list(csv.reader(io.StringIO(write_csv([table], zone=PARIS).decode(), newline="")))
    assert rows[0] == ["'=header", "text"]
    assert [row[1] for row in rows[1:]] == ["'" + p for p in PAYLOADS]
    table.rows = [(n, p) for n, p in enumerate(PAYLOADS)]
    sheet = workbook(write_xlsx([table], zone=PARIS)).worksheets[0]
    assert sheet["A1"].value == "=header" and sheet["A1"].data_type == "s"
    assert [c.value for c in sheet["B"][1:]] == [in_xlsx(p) for p in PAYLOADS]
    assert all(c.data_type == "s" for c in sheet["B"][1:])


def test_only_strings_are_neutralised():
    assert [neutralise(p) for p in PAYLOADS] == ["'" + p for p in PAYLOADS]
    assert neutralise("Camille") == "Camille" and neutralise("") == ""
    assert neutralise(-1) == -1 and neutralise(-0.5) == -0.5 and neutralise(None) is None
    table = Table("Numbers", ["n", "x", "text"], [(-1, -0.5, "-1")])
    sheet = workbook(write_xlsx([table], zone=PARIS))["Numbers"]
    assert [c.value for c in sheet[2]] == [-1, -0.5, "-1"]
    assert sheet["A2"].data_type == "n" and sheet["C2"].data_type == "s"
    body = write_csv([Table("Numbers", ["n", "x", "text"], [(-1, -0.5, "-1")])], zone=PARIS)
    assert body.decode().splitlines()[1] == "-1,-0.5,'-1"
    typed_error = Table("T", ["a"], [("#N/A",)])
    assert workbook(write_xlsx([typed_error], zone=PARIS))["T"]["A2"].data_type == "s"


def test_text_survives_the_xlsx_writer():
    texts = [
        "Ernst & Young <b>",
        "  spaced  ",
        "two\r\nlines",
        "Ayşe 😀 李小龍",
        "\u200fعربي",
        "x" * 40000,
    ]
    when = datetime(2026, 3, 29, 1, 30, tzinfo=ZoneInfo("UTC"))  # 03:30 in Paris (summer)
    table = Table("T", ["text", "when"], [(t, when) for t in texts])
    sheet = workbook(write_xlsx([table], zone=PARIS))["T"]
    expected = [xlsx_escaped(t) for t in texts[:-1]]
    assert [c.value for c in sheet["A"][1:]] == [*expected, "x" * 32767]  # Excel's limit
    assert sheet["B2"].value == datetime(2026, 3, 29, 3, 30)


def test_sheet_titles_are_valid_and_unique():
    taken: set[str] = set()
    assert sheet_title("Ventes [Q1]: a/b?", taken) == "Ventes  Q1   a b"
    assert sheet_title("x" * 40, taken) == "x" * 31
    assert sheet_title("X" * 40, taken) == "X" * 27 + " (2)"  # Excel ignores case
    assert len(taken) == 3 and all(len(t) <= 31 for t in taken)
    assert sheet_title("'quoted'", taken) == "quoted"
    assert sheet_title("   ", taken) == "Sheet"


# --- options ---------------------------------------------------------------------------------


def test_unsupported_combinations_are_refused(db, event):
    other_event = make_event(db)
    cases = [
        (("attendees", "pdf"), {}, "attendees export comes as csv, xlsx"),
        (("signin", "csv"), {}, "comes as pdf"),
        (("headcount", "csv"), {"session": event.sessions[0].id}, "sign-in sheet"),
        (("signin", "pdf"), {"session": other_event.sessions[0].id}, "not part of the event"),
        (("signin", "pdf"), {"session": "abc"}, "not part of the event"),
        (("visitors", "csv"), {}, "Unknown export"),
        (("headcount", "csv"), {"separator": "|"}, "separator"),
        (("headcount", "csv"), {"bom": "yes"}, "byte-order mark"),
    ]
    for (what, fmt), options, message in cases:
        with pytest.raises(DomainError) as refused:  # ExportError, or NotASession
            export, parsed = parse_options(what, fmt, **options)
            export.render(db, event, parsed)
        assert refused.value.status == 400
        assert message in str(refused.value.message), (what, fmt, options)


# --- the command ------------------------------------------------------------------------------


@pytest.fixture
def english_shell(monkeypatch):
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.delenv("LC_MESSAGES", raising=False)
    monkeypatch.setenv("LANG", "en_GB.UTF-8")


def test_export_command_writes_the_file(app, db, english_shell, tmp_path):
    event = built(app, db)
    runner = app.test_cli_runner()
    out = tmp_path / "people.xlsx"
    args = [event.slug, "--what", "attendees", "--format", "xlsx", "-o", str(out)]
    result = runner.invoke(export_command, args)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Attendees (xlsx, ") and str(out) in result.output
    assert len(sheet_rows(workbook(out.read_bytes())["Attendees"])) == 8

    out = tmp_path / "headcount.csv"
    args = [event.slug, "--what", "headcount", "--format", "csv", "-o", str(out)]
    result = runner.invoke(export_command, [*args, "--bom", "--separator", ";"])
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(BOM + b"Summary")
    assert b"Figure;Value" in out.read_bytes()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--what", "attendees", "--format", "pdf"], "comes as csv, xlsx"),
        (["--what", "signin", "--format", "pdf", "--session", "999999"], "not part of the event"),
        (["--what", "headcount", "--format", "csv", "--session", "1"], "sign-in sheet"),
        (["--what", "nothing", "--format", "csv"], "--what"),
        (["--what", "headcount", "--format", "csv", "--separator", "|"], "--separator"),
        (["--what", "headcount", "--format", "doc"], "--format"),
    ],
)
def test_export_command_errors_are_one_line(app, db, english_shell, tmp_path, args, message):
    event = built(app, db, make_event)
    out = tmp_path / "out"
    result = app.test_cli_runner().invoke(export_command, [event.slug, *args, "-o", str(out)])
    assert result.exit_code != 0
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and message in errors[0], result.output
    assert "Traceback" not in result.output and not out.exists()


def test_export_command_unknown_event(app, db, english_shell, tmp_path):
    args = ["no-such-event", "--what", "headcount", "--format", "csv", "-o", str(tmp_path / "x")]
    result = app.test_cli_runner().invoke(export_command, args)
    assert result.exit_code != 0
    assert result.output.strip() == "Error: No event has the slug no-such-event."


# --- the download ----------------------------------------------------------------------------


def test_organisers_download_and_door_staff_do_not(app, client, db):
    event = built(app, db)
    organiser = make_user(app, db, Role.ORGANISER, [event], email="org-exports@example.org")
    door = make_user(app, db, Role.DOOR, [event], email="door-exports@example.org")
    outsider = make_user(app, db, Role.ORGANISER, [], email="org-elsewhere@example.org")
    db.commit()
    url = f"/events/{event.slug}/export"

    login(client, organiser)
    response = client.get(url, query_string={"what": "headcount", "format": "xlsx"})
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="headcount-attendance.xlsx"'
    )
    assert response.headers["Cache-Control"] == "no-store"
    assert workbook(response.data)["Summary"]["B2"].value == 8

    response = client.get(
        url, query_string={"what": "attendees", "format": "csv", "bom": "1", "separator": ";"}
    )
    assert response.status_code == 200 and response.mimetype == "text/csv"
    # One charset, as clients that parse the header strictly want it.
    assert response.headers.getlist("Content-Type") == ["text/csv; charset=utf-8"]
    assert response.data.startswith(BOM + b"ID;First name")
    assert 'filename="attendees-attendance.csv"' in response.headers["Content-Disposition"]

    for refused in (door, outsider):  # the door role; an organiser of other events
        login(client, refused)
        query = {"what": "headcount", "format": "csv"}
        assert client.get(url, query_string=query).status_code == 403


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"what": "everything", "format": "csv"}, "Unknown export “everything”"),
        ({"format": "csv"}, "Unknown export"),
        ({"what": "attendees", "format": "pdf"}, "comes as csv, xlsx, not “pdf”"),
        ({"what": "checkins", "format": "docx"}, "comes as csv, xlsx"),
        ({"what": "signin", "format": "pdf", "session": "abc"}, "not part of the event"),
        ({"what": "signin", "format": "pdf", "session": "999999"}, "not part of the event"),
        ({"what": "headcount", "format": "csv", "separator": "|"}, "The separator must be"),
    ],
)
def test_a_bad_parameter_is_a_400_that_says_why(app, client, db, query, message):
    event = make_event(db)
    organiser = make_user(app, db, Role.ORGANISER, [event])
    db.commit()
    login(client, organiser)
    response = client.get(f"/events/{event.slug}/export", query_string=query)
    assert response.status_code == 400
    assert response.mimetype == "text/html" and "<h1>Error</h1>" in response.text
    assert message in response.text.replace("&#34;", '"')
