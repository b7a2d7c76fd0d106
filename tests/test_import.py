"""Importing a list of invitees: CSV or XLSX, a preview, then the import; the same
service from the command line."""

from __future__ import annotations

import base64
import io
import os
import re
import struct
import zipfile
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import func, select

from tests.conftest import (
    SHEET_NS,
    login,
    make_event,
    make_registration,
    make_user,
    page_text,
    rebuilt,
    small_workbook,
    with_shared_strings,
)
from tracker import limited
from tracker.models import AuditEntry, Registration, RegistrationSource, Role
from tracker.organiser.commands import import_command
from tracker.registration import importer
from tracker.registration.forms import RegistrationForm
from tracker.registration.services import CONFIRMED, WAITLISTED

HEADER = "first_name;last_name;email;organisation;organisation_type;job_title;sessions"


@pytest.fixture
def event(db):
    return make_event(db, capacity=3)


@pytest.fixture
def organiser(app, db, event):
    return make_user(app, db, Role.ORGANISER, [event], email="orga@example.org")


@pytest.fixture
def as_organiser(client, organiser):
    login(client, organiser)
    return client


@pytest.fixture(autouse=True)
def import_folder(app, tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "imports"
    monkeypatch.setitem(app.config, "IMPORT_FOLDER", str(folder))
    return folder


@pytest.fixture(autouse=True)
def english_shell(monkeypatch):
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.delenv("LC_MESSAGES", raising=False)
    monkeypatch.setenv("LANG", "en_GB.UTF-8")


def csv_bytes(*lines: str, bom: bool = True) -> bytes:
    body = "\r\n".join(lines) + "\r\n"
    return ("\ufeff" if bom else "").encode() + body.encode("utf-8")


def registrations(db, event) -> list[Registration]:
    db.expire_all()
    return list(
        db.scalars(
            select(Registration).where(Registration.event_id == event.id).order_by(Registration.id)
        )
    )


def count(db, event) -> int:
    db.expire_all()
    return db.scalar(select(func.count(Registration.id)).where(Registration.event_id == event.id))


def good_csv(event) -> bytes:
    plenary, table = event.sessions[0], event.sessions[1]
    return csv_bytes(
        HEADER,
        f"Hélène;Lefèvre;helene.lefevre@bretagne.example;Région Bretagne;region;;{plenary.id}",
        "Karim;Ben Ahmed;karim@businessfrance.example;Business France;Agency;;"
        f'"plénière | {table.title}"',
        "Zoé;Nguyen;zoe@ademe.example;ADEME;agency;Chargée de mission;",
    )


def upload(client, event, content: bytes, name: str = "invites.csv"):
    return client.post(
        f"/events/{event.slug}/import",
        data={"file": (io.BytesIO(content), name)},
        content_type="multipart/form-data",
    )


def preview_token(response) -> str:
    return re.search(r'name="token" value="([^"]+)"', response.get_data(as_text=True)).group(1)


# --- through the pages ------------------------------------------------------------


def test_csv_with_bom_and_semicolons_preview_then_import(
    client, db, event, organiser, as_organiser, outbox, import_folder
):
    preview = upload(as_organiser, event, good_csv(event))
    assert preview.status_code == 200
    page = page_text(preview)
    assert "Preview of the import" in page
    assert 'data-count="imported">3' in page and 'data-count="refused">0' in page
    assert "Hélène Lefèvre" in page and "Table ronde 1" in page
    assert count(db, event) == 0  # nothing before the organiser confirms
    assert len(list(import_folder.glob("*.upload"))) == 1  # kept on the server meanwhile

    done = as_organiser.post(
        f"/events/{event.slug}/import/confirm", data={"token": preview_token(preview)}
    )
    assert done.status_code == 200 and "Import done" in page_text(done)
    people = registrations(db, event)
    assert [p.email for p in people] == [
        "helene.lefevre@bretagne.example",
        "karim@businessfrance.example",
        "zoe@ademe.example",
    ]
    assert {p.source for p in people} == {RegistrationSource.IMPORT}
    assert all(p.consent_at is not None and p.status == CONFIRMED for p in people)
    assert [s.title for s in people[1].sessions] == ["Plénière", "Table ronde 1"]
    assert people[1].organisation_type.value == "agency"  # "Agency" read kindly
    assert people[2].job_title == "Chargée de mission"
    assert outbox.messages == []  # no e-mail unless asked
    assert list(import_folder.glob("*.upload")) == []
    added = db.scalars(select(AuditEntry).where(AuditEntry.action == "registration.add")).all()
    assert len(added) == 3 and {e.user_id for e in added} == {organiser.id}
    page = page_text(as_organiser.get(f"/events/{event.slug}/registrations/{people[0].id}"))
    assert "Imported from a list" in page and "orga@example.org" in page

    again = as_organiser.post(
        f"/events/{event.slug}/import/confirm", data={"token": preview_token(preview)}
    )
    assert again.status_code == 303
    assert "This import has expired or was already done" in page_text(
        as_organiser.get(again.headers["Location"])
    )
    assert count(db, event) == 3


def test_importing_the_same_file_twice_adds_nobody(client, db, event, as_organiser):
    preview = upload(as_organiser, event, good_csv(event))
    as_organiser.post(
        f"/events/{event.slug}/import/confirm", data={"token": preview_token(preview)}
    )
    assert count(db, event) == 3
    page = page_text(upload(as_organiser, event, good_csv(event)))
    assert 'data-count="imported">0' in page
    assert 'data-count="already_registered">3' in page
    assert "Nobody in this file can be imported." in page and 'name="token"' not in page
    report = importer.import_file(db, event, "again.csv", good_csv(event), actor=None)
    assert report.counts()["imported"] == 0 and report.counts()["already_registered"] == 3
    assert count(db, event) == 3


def test_e_mails_only_when_asked(client, db, event, as_organiser, outbox):
    preview = upload(as_organiser, event, good_csv(event))
    as_organiser.post(
        f"/events/{event.slug}/import/confirm",
        data={"token": preview_token(preview), "send_emails": "y"},
    )
    assert sorted(m["To"] for m in outbox.messages) == sorted(
        p.email for p in registrations(db, event)
    )


def test_xlsx_made_with_openpyxl(client, db, event, as_organiser):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(list(importer.COLUMNS))
    plenary = float(event.sessions[0].id)  # a number cell, as a spreadsheet stores it
    sheet.append(["Anne", "Roux", "anne.roux@ademe.example", "ADEME", "agency", None, plenary])
    sheet.append([None] * 7)  # an empty row is skipped
    sheet.append(["Paul", "Roux", "pas-une-adresse", "ADEME", "agency", None, None])
    sheet.append(["Léa", "Morel", "lea@example.org", "Pôle Mer", "cluster", 42, "Table ronde 2"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    preview = upload(as_organiser, event, buffer.getvalue(), "invités.xlsx")
    page = page_text(preview)
    assert 'data-count="imported">2' in page and 'data-count="refused">1' in page
    assert re.search(r'data-line="4">.*?Enter a valid e-mail address', page, re.S)
    as_organiser.post(
        f"/events/{event.slug}/import/confirm", data={"token": preview_token(preview)}
    )
    people = registrations(db, event)
    assert [p.email for p in people] == ["anne.roux@ademe.example", "lea@example.org"]
    assert people[1].job_title == "42"
    assert [s.title for s in people[1].sessions] == ["Table ronde 2"]
    assert [s.title for s in people[0].sessions] == ["Plénière"]


# --- lists as French offices save them ----------------------------------------------


def test_a_csv_saved_by_french_excel(client, db, event, as_organiser):
    """“CSV (séparateur : point-virgule)” from French Excel: Windows-1252, `;`, CRLF,
    French headers in any case, with spaces and without accents, French type labels."""
    lines = [
        " Prénom ;NOM;Adresse electronique;Organisme;TYPE;Fonction;Sessions",
        "Hervé;Œuvray;herve.oeuvray@polemer.example;Pôle Mer Méditerranée;"
        "Pôle de compétitivité;Chargé d’affaires;Plénière",
        "Élodie;Dupré;elodie.dupre@iledefrance.example;Région Île-de-France;Région;;table ronde 1",
        ";;;;;;",  # 4: an empty row, skipped
        "Paul;Roux;pas-une-adresse;ADEME;Agence;;",  # 5: refused
        "Jean;Martin;jean.martin@economie.example;Ministère de l’Économie;ministere;;",
    ]
    content = "\r\n".join(lines).encode("cp1252") + b"\r\n"
    with pytest.raises(UnicodeDecodeError):
        content.decode("utf-8")  # really Windows-1252: Œ and ’ are single bytes
    preview = client.post(
        f"/events/{event.slug}/import",
        data={"file": (io.BytesIO(content), "invités.csv")},
        content_type="multipart/form-data",
        headers={"Accept-Language": "fr"},
    )
    page = page_text(preview)
    assert preview.status_code == 200, page
    assert 'data-count="imported">3' in page and 'data-count="refused">1' in page
    assert "Hervé Œuvray" in page and "Pôle Mer Méditerranée" in page
    # the file's line numbers (header = 1), in the accepted rows and in the refusals
    accepted = page.split('class="grid imported"')[1]
    imported = re.findall(r'<tr data-line="(\d+)">\s*<td class="num">(\d+)</td>', accepted)
    assert imported == [("2", "2"), ("3", "3"), ("6", "6")]
    assert re.search(
        r'data-line="5"><td class="num">5</td>.*?Saisissez une adresse électronique valide',
        page,
        re.S,
    )
    as_organiser.post(
        f"/events/{event.slug}/import/confirm", data={"token": preview_token(preview)}
    )
    people = registrations(db, event)
    assert [(p.first_name, p.last_name) for p in people] == [
        ("Hervé", "Œuvray"),
        ("Élodie", "Dupré"),
        ("Jean", "Martin"),
    ]
    assert [p.organisation.name for p in people] == [
        "Pôle Mer Méditerranée",
        "Région Île-de-France",
        "Ministère de l’Économie",
    ]
    assert [p.organisation_type.value for p in people] == ["cluster", "region", "ministry"]
    assert people[0].job_title == "Chargé d’affaires"
    assert [s.title for s in people[1].sessions] == ["Table ronde 1"]


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_a_utf16_file_with_its_bom(db, app_ctx, event, encoding):
    """Excel's “Unicode text”: UTF-16 with a BOM, tab separated."""
    bom = "\ufeff".encode(encoding)
    body = "\r\n".join(
        [
            "Prénom\tNom\tCourriel\tOrganisation\tType\tFonction",
            "Łucja\tWoźniak\tlucja@culture.example\tMinistère de la Culture\tMinistry\t",
            "Zoé\tŒuvray\tzoe@ademe.example\tADEME\tPublic agency\tChargée d’études",
        ]
    )
    content = bom + body.encode(encoding)
    report = importer.import_file(db, event, "liste.csv", content, actor=None, dry_run=True)
    assert report.refused == []
    assert [(r.line, r.name, r.organisation_type) for r in report.imported] == [
        (2, "Łucja Woźniak", "ministry"),
        (3, "Zoé Œuvray", "agency"),
    ]


def test_a_latin1_file_is_read(db, app_ctx, event):
    content = (
        "Prénom;Nom;E-mail;Organisme;Type\nRené;Lefèvre;rene@bretagne.example;"
        "Région Bretagne;Autre\n"
    ).encode("latin-1")
    report = importer.import_file(db, event, "liste.csv", content, actor=None, dry_run=True)
    assert [(r.line, r.name, r.organisation, r.organisation_type) for r in report.imported] == [
        (2, "René Lefèvre", "Région Bretagne", "other")
    ]


def test_an_xlsx_with_french_headers(db, app_ctx, event):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append([" prénom", "Nom ", "E-MAIL", "Organisation", "Type", "FONCTION", "sessions"])
    sheet.append(
        ["Hervé", "Œuvray", "herve@polemer.example", "Pôle Mer Méditerranée", "Pôle", None, None]
    )
    sheet.append(["Inès", "Roux", "ines@ademe.example", "ADEME", "Agence", "Cheffe", "Plénière"])
    sheet.append(["Luc", "Roux", "luc@example.org", "ADEME", "Université", None, None])
    buffer = io.BytesIO()
    workbook.save(buffer)
    report = importer.import_file(
        db, event, "invités.xlsx", buffer.getvalue(), actor=None, dry_run=True
    )
    assert [(r.line, r.name, r.organisation_type) for r in report.imported] == [
        (2, "Hervé Œuvray", "cluster"),
        (3, "Inès Roux", "agency"),
    ]
    assert [(r.line, r.label) for r in report.refused] == [(4, "luc@example.org")]


def test_a_column_named_twice_in_two_languages(db, app_ctx, event):
    content = csv_bytes("Prénom;Nom;Courriel;E-mail;Organisme;Type")
    with pytest.raises(importer.ImportFileError) as refused:
        importer.import_file(db, event, "liste.csv", content, actor=None, dry_run=True)
    assert str(refused.value.message) == (
        "The column “E-mail (email)” appears twice in the first row."
    )


def test_the_preview_says_who_would_be_waitlisted(client, db, event, as_organiser):
    make_registration(db, event)
    make_registration(db, event)
    page = page_text(upload(as_organiser, event, good_csv(event)))
    statuses = re.findall(r'<tr data-line="\d+">.*?<td>(Confirmed|Waitlisted)</td>', page, re.S)
    assert statuses == ["Confirmed", "Waitlisted", "Waitlisted"]
    assert "confirmed: 1, waitlisted: 2" in page


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (b"", "a.csv", "The file is empty."),
        # Latin-1 is read (as Windows-1252): Prénom and Nom are found, the others missing
        (
            "Prénom;Nom\n".encode("latin-1"),
            "a.csv",
            "Missing columns: email, organisation, organisation_type.",
        ),
        ("Prénom;Nom\n".encode("utf-16-le"), "a.csv", "This file does not read as text"),
        (b"\x7fELF\x02\x01\x01\x00\x00", "a.csv", "This file does not read as text"),
        (b"\xff\xfe\x00\xd8", "a.csv", "This file does not read as text"),  # broken UTF-16
        (csv_bytes("first_name;last_name;email"), "a.csv", "Missing columns: organisation"),
        (csv_bytes("email,email,first_name"), "a.csv", "appears twice"),
        (b"PK\x03\x04 not really a workbook", "a.xlsx", "cannot be read as an Excel workbook"),
        (b"first_name", "list.pdf", "Choose a .csv or .xlsx file."),
    ],
)
def test_unreadable_files_are_explained(client, db, event, as_organiser, content, name, message):
    response = upload(as_organiser, event, content, name)
    assert response.status_code == 422
    assert message in page_text(response)
    assert count(db, event) == 0


def test_no_file_chosen(client, db, event, as_organiser):
    response = as_organiser.post(f"/events/{event.slug}/import", data={})
    assert response.status_code == 422 and "Choose a file to import." in page_text(response)


def test_a_file_too_large_is_refused_clearly(client, db, event, as_organiser):
    response = upload(as_organiser, event, b"x" * (2 * 1024 * 1024 + 1))
    assert response.status_code == 413
    assert "The file is larger than 2 MB" in page_text(response)


def test_a_forged_or_foreign_token_imports_nothing(app, client, db, event, as_organiser):
    preview = upload(as_organiser, event, good_csv(event))
    token = preview_token(preview)
    forged = as_organiser.post(
        f"/events/{event.slug}/import/confirm", data={"token": "../../etc/passwd"}
    )
    assert forged.status_code == 303
    other_event = make_event(db)
    organiser2 = make_user(app, db, Role.ADMIN)
    login(client, organiser2)  # another person's browser session has no pending import
    foreign = client.post(f"/events/{other_event.slug}/import/confirm", data={"token": token})
    assert foreign.status_code == 303
    page = page_text(client.get(foreign.headers["Location"]))
    assert "This import has expired or was already done: upload the file again." in page
    assert count(db, event) == 0 and count(db, other_event) == 0


def test_a_door_account_cannot_import(app, client, db, event):
    login(client, make_user(app, db, Role.DOOR, [event]))
    assert client.get(f"/events/{event.slug}/import").status_code == 403
    assert upload(client, event, good_csv(event)).status_code == 403
    assert count(db, event) == 0


# --- the rows refused and why --------------------------------------------------


def test_refused_rows_and_their_reasons(db, app_ctx, event):
    long_name = "N" * 101
    content = csv_bytes(
        HEADER,
        "Anne;Roux;anne@example.org;ADEME;agency;;",  # 2: fine
        ";Roux;paul@example.org;ADEME;agency;;",  # 3: missing first name
        "Marc;Roux;marc-at-example.org;ADEME;agency;;",  # 4: bad e-mail
        "Luc;Roux;luc@example.org;ADEME;university;;",  # 5: unknown type
        "Ines;Roux;ines@example.org;ADEME;agency;;Table ronde 9",  # 6: unknown session
        "Eve;Ro\x07ux;eve@example.org;ADEME;agency;;",  # 7: control character
        f"{long_name};Roux;long@example.org;ADEME;agency;;",  # 8: too long
        "Anne;Roux;ANNE@example.org;ADEME;agency;;",  # 9: same address as line 2
        '"Jean\nPierre";Roux;jp@example.org;ADEME;agency;;',  # 10-11: a line break
        "Rose;Roux;rose@example.org;;agency;;",  # 12: no organisation
    )
    report = importer.import_file(db, event, "list.csv", content, actor=None, dry_run=True)
    reasons = {row.line: " ".join(row.reasons) for row in report.refused}
    assert [row.line for row in report.imported] == [2]
    assert reasons == {
        3: "first_name: This field is required.",
        4: "email: Enter a valid e-mail address.",
        5: "organisation_type: unknown type “university”: use cluster, ministry, region, "
        "agency, other.",
        6: "sessions: no session of this event is called “Table ronde 9”.",
        7: "last_name: Control characters and line breaks are not allowed here.",
        8: "first_name: At most 100 characters, please.",
        9: "email: the same address as line 2.",
        10: "first_name: Control characters and line breaks are not allowed here.",
        12: "organisation: This field is required.",
    }
    assert count(db, event) == 0  # a dry run


def test_the_rows_follow_the_online_forms_rules(app, db, event):
    """Whatever the online form accepts or refuses, the import does too."""
    values = [
        "Camille",
        "Zoë 🚀",
        "‏محمد",  # a right-to-left mark
        "a\u2028b",  # a line separator
        "a\x85b",  # a C1 control
        "   ",
        "x" * 100,
        "x" * 101,
    ]
    for value in values:
        row = {
            "first_name": value,
            "last_name": "Roux",
            "email": "a@example.org",
            "organisation": "ADEME",
            "organisation_type": "agency",
        }
        with app.test_request_context("/", method="POST", data={**row, "consent": "y"}):
            form = RegistrationForm(meta={"csrf": False})
            online = form.validate()
            data, reasons = importer.check_row(event, row)
        assert (data is not None) == online, (value, reasons, form.errors)


def test_columns_that_are_not_fields_are_ignored_and_said(db, app_ctx, event):
    content = csv_bytes(
        "first_name,last_name,email,organisation,organisation_type,phone",
        "Anne,Roux,anne@example.org,ADEME,agency,0102030405",
        bom=False,
    )
    report = importer.import_file(db, event, "a.csv", content, actor=None)
    assert report.ignored_columns == ["phone"] and len(report.imported) == 1
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "event.import"))
    assert entry.changes["imported"] == 1 and entry.changes["file"] == "a.csv"


# --- the command line ------------------------------------------------------------


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def test_cli_dry_run_changes_nothing_then_imports(runner, db, event, tmp_path):
    path = tmp_path / "invites.csv"
    path.write_bytes(good_csv(event) + b"Marc;Roux;marc-at-example.org;ADEME;agency;;\r\n")
    result = runner.invoke(import_command, [event.slug, str(path), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "line 5: email: Enter a valid e-mail address." in result.output
    assert (
        "Dry run, nothing changed. Would import: 3 (confirmed: 3, waitlisted: 0), "
        "already registered: 0, refused: 1." in result.output
    )
    assert count(db, event) == 0

    result = runner.invoke(import_command, [event.slug, str(path)])
    assert result.exit_code == 0, result.output
    assert "Imported: 3 (confirmed: 3, waitlisted: 0), already registered: 0, refused: 1." in (
        result.output
    )
    assert count(db, event) == 3
    assert {p.source for p in registrations(db, event)} == {RegistrationSource.IMPORT}

    result = runner.invoke(import_command, [event.slug, str(path)])
    assert "Imported: 0 (confirmed: 0, waitlisted: 0), already registered: 3, refused: 1." in (
        result.output
    )
    assert count(db, event) == 3


def test_cli_usage_and_file_errors_exit_non_zero(runner, db, event, tmp_path):
    missing = runner.invoke(import_command, [event.slug, str(tmp_path / "nope.csv")])
    assert missing.exit_code == 2
    path = tmp_path / "bad.csv"
    path.write_bytes(b"name;mail\nAnne;a@example.org\n")
    bad = runner.invoke(import_command, [event.slug, str(path)])
    assert bad.exit_code == 1 and "Missing columns" in bad.output
    assert "Traceback" not in bad.output
    unknown = runner.invoke(import_command, ["no-such-event", str(path)])
    assert unknown.exit_code == 1 and "No event has the slug no-such-event." in unknown.output
    assert count(db, event) == 0


def test_cli_waitlists_beyond_capacity(runner, db, event, tmp_path):
    make_registration(db, event)
    path = tmp_path / "invites.csv"
    path.write_bytes(good_csv(event))
    result = runner.invoke(import_command, [event.slug, str(path)])
    assert "Imported: 3 (confirmed: 2, waitlisted: 1)" in result.output
    assert [p.status for p in registrations(db, event)][-1] == WAITLISTED


def test_the_size_message_also_with_csrf_on(app, client, db, event, as_organiser, monkeypatch):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    response = upload(as_organiser, event, b"x" * (2 * 1024 * 1024 + 1))
    assert response.status_code == 413
    assert "The file is larger than 2 MB" in page_text(response)


# --- hostile files: refused under the limits, read in a child ------------------------


def repeated(piece: bytes, times: int, batch: int = 100_000):
    for start in range(0, times, batch):
        yield piece * min(batch, times - start)


def inline_row(number: int, values) -> str:
    cells = "".join(
        f'<c r="{chr(65 + i)}{number}" t="inlineStr"><is><t>{v}</t></is></c>'
        for i, v in enumerate(values)
    )
    return f'<row r="{number}">{cells}</row>'


def sheet(dimension: str, *rows: str):
    def chunks():
        yield (
            f'<?xml version="1.0"?><worksheet xmlns="{SHEET_NS}"><dimension ref="{dimension}"/>'
            f"<sheetData>{''.join(rows)}</sheetData></worksheet>"
        ).encode()

    return chunks


def empty_cells(header: str, cells: int):
    def chunks():
        yield f'<?xml version="1.0"?><worksheet xmlns="{SHEET_NS}"><sheetData>{header}'.encode()
        yield b'<row r="2">'
        yield from repeated(b"<c/>", cells)
        yield b"</row></sheetData></worksheet>"

    return chunks


def lying_sizes(workbook: bytes, member: str, declared: int) -> bytes:
    """The workbook with `member`'s uncompressed size in its local and central headers
    replaced by `declared`."""
    data = bytearray(workbook)
    info = zipfile.ZipFile(io.BytesIO(workbook)).getinfo(member)
    struct.pack_into("<I", data, info.header_offset + 22, declared)
    name = member.encode()
    central = data.index(b"PK\x01\x02")
    while data[central + 46 : central + 46 + len(name)] != name:
        central = data.index(b"PK\x01\x02", central + 4)
    struct.pack_into("<I", data, central + 24, declared)
    return bytes(data)


@pytest.fixture(scope="module")
def hostile() -> dict[str, bytes]:
    base = small_workbook()
    header = inline_row(1, importer.COLUMNS[:5])
    return {
        # 5,000,000 shared strings: 85 MB of XML in a file of about 250 KB.
        "shared strings": with_shared_strings(base, repeated(b"<si><t>x</t></si>", 5_000_000)),
        # 2,000,000 empty cells: 8 MB of XML packed about 1000 to 1.
        "empty cells": rebuilt(base, {"xl/worksheets/sheet1.xml": empty_cells(header, 2_000_000)}),
        # The whole sheet's dimension and one cell in its last row: a million empty rows.
        "huge dimension": rebuilt(
            base,
            {
                "xl/worksheets/sheet1.xml": sheet(
                    "A1:XFD1048576", header, inline_row(1048576, ["Anne"])
                )
            },
        ),
        # A member that declares 100 bytes and unpacks to far more.
        "lying sizes": lying_sizes(small_workbook(3000), "xl/worksheets/sheet1.xml", 100),
    }


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("shared strings", "This workbook holds more than 50 MB once unpacked"),
        ("empty cells", "This file is not an ordinary workbook"),
        ("huge dimension", "The file has more than 50000 lines, empty ones included"),
        ("lying sizes", "This file cannot be read as an Excel workbook (.xlsx)."),
    ],
)
def test_hostile_workbooks_are_refused_clearly(
    client, db, event, as_organiser, hostile, kind, message
):
    content = hostile[kind]
    assert len(content) < 2 * 1024 * 1024  # under the upload limit
    response = upload(as_organiser, event, content, "invites.xlsx")
    assert response.status_code == 422
    assert message in page_text(response)
    assert count(db, event) == 0


def test_a_csv_with_one_giant_line_is_refused_clearly(client, db, event, as_organiser):
    giant = "Anne;Roux;anne@example.org;ADEME;agency;;" + "x;" * 700_000
    response = upload(as_organiser, event, csv_bytes(HEADER, giant))
    assert response.status_code == 422
    assert "Line 2 is longer than 100000 characters" in page_text(response)
    assert count(db, event) == 0


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (small_workbook(), "invites.csv", "This file is a workbook, not CSV text"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 512, "old.csv", "is a workbook, not CSV"),
        (csv_bytes(HEADER), "invites.xlsx", "cannot be read as an Excel workbook"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "photo.xlsx", "cannot be read as an Excel workbook"),
    ],
)
def test_a_file_that_is_not_what_its_name_says(
    client, db, event, as_organiser, content, name, message
):
    response = upload(as_organiser, event, content, name)
    assert response.status_code == 422
    assert message in page_text(response)
    assert count(db, event) == 0


def test_a_zip_that_is_not_a_workbook_is_refused(client, db, event, as_organiser):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("word/document.xml", "<document/>")
    response = upload(as_organiser, event, out.getvalue(), "invites.xlsx")
    assert response.status_code == 422
    assert "cannot be read as an Excel workbook" in page_text(response)


def test_the_documented_maximum_is_read(app_ctx):
    table = importer.read_table("invites.xlsx", small_workbook(importer.MAX_ROWS))
    assert len(table.rows) == importer.MAX_ROWS
    lines = [HEADER] + [f"A;R;a.{n}@example.org;ADEME;agency;;" for n in range(importer.MAX_ROWS)]
    assert len(importer.read_table("invites.csv", csv_bytes(*lines)).rows) == importer.MAX_ROWS


def test_reading_over_its_time_is_stopped_with_a_clear_message(app, app_ctx, monkeypatch):
    monkeypatch.setitem(app.config, "IMPORT_TIMEOUT", 0.05)
    with pytest.raises(importer.ImportFileError) as caught:
        importer.read_table("invites.xlsx", small_workbook(importer.MAX_ROWS))
    assert "Reading this file took longer than 0.05 seconds and was stopped" in str(
        caught.value.message
    )


def peak_rss_kib() -> int:
    return int(re.search(r"VmHWM:\s+(\d+)", Path("/proc/self/status").read_text()).group(1))


def address_space_mib() -> int:
    return (
        int(re.search(r"VmSize:\s+(\d+)", Path("/proc/self/status").read_text()).group(1)) // 1024
    )


def test_a_workbook_that_needs_much_memory_is_stopped_in_a_child(app, app_ctx, monkeypatch):
    """20,000 shared strings of 2,000 random characters and an emoji (40 MB, which no
    packing makes smaller, and 160 MB in memory): more than the reading process may hold,
    so it is stopped; this process does not grow meanwhile."""
    emoji = "😀".encode()
    strings = (
        b"<si><t>" + emoji + base64.b64encode(os.urandom(1500)) + b"</t></si>"
        for _ in range(20_000)
    )
    content = with_shared_strings(small_workbook(), strings, level=1)
    start = limited.run_one(address_space_mib, limits=limited.Limits(10, 4096))
    limit = start + 60  # what a child has at its start, and 60 MiB
    monkeypatch.setitem(app.config, "IMPORT_MEMORY_LIMIT", limit)
    assert len(importer.read_table("invites.xlsx", small_workbook(200)).rows) == 200
    Path("/proc/self/clear_refs").write_text("5")  # the peak starts again from now
    before = peak_rss_kib()
    with pytest.raises(importer.ImportFileError) as caught:
        importer.read_table("invites.xlsx", content)
    assert f"Reading this file needed more than {limit} MiB of memory and was stopped" in str(
        caught.value.message
    )
    # The file is handed to the child (one copy of its 31 MB); what reading it takes is not.
    assert peak_rss_kib() - before < len(content) // 1024 + 16 * 1024


def test_cli_refuses_a_hostile_file_in_one_line(runner, db, event, tmp_path, hostile):
    path = tmp_path / "invites.xlsx"
    path.write_bytes(hostile["shared strings"])
    result = runner.invoke(import_command, [event.slug, str(path)])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "Error: This workbook holds more than 50 MB once unpacked: keep only the list of "
        "invitees in it (one sheet, no pictures), or save it as CSV."
    ]
    assert count(db, event) == 0


def test_a_refusal_from_the_child_is_in_the_readers_language(client, db, event, as_organiser):
    as_organiser.environ_base["HTTP_ACCEPT_LANGUAGE"] = "fr"
    giant = "Anne;Roux;anne@example.org;ADEME;agency;;" + "x;" * 60_000
    response = upload(as_organiser, event, csv_bytes(HEADER, giant))
    assert response.status_code == 422
    assert "La ligne 2 dépasse 100000 caractères" in page_text(response)
