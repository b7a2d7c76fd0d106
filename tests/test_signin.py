"""The PDF sign-in sheet (feuille d'émargement), against the event whose people and
check-ins are known (tests.conftest.attendance_event):

cluster   A plenary+RT1, entrance 09:02 and RT1 10:01; B plenary, entrance 09:14;
          C RT1, never came; D RT1, cancelled
ministry  E plenary, checked in then undone; F plenary, waitlisted
region    G walk-in, entrance 09:25
agency    H checked in to RT2 only (not registered for it)
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from flask_babel import force_locale
from pypdf import PdfReader
from sqlalchemy import event as sa_event
from sqlalchemy import select

from tests.conftest import at, attendance_event, make_event, make_registration
from tracker.errors import InvalidChoice
from tracker.models import OrganisationType, Registration, RegistrationStatus
from tracker.pdf import css_string
from tracker.reports.services import figures
from tracker.reports.signin import render_signin, signin_sheet

pytestmark = pytest.mark.usefixtures("app_ctx")

TYPE_HEADINGS = [
    "Competitiveness cluster (pôle de compétitivité)",
    "Ministry",
    "Region",
    "Public agency",
]


@pytest.fixture
def event(db):
    event = attendance_event(db)
    event.starts_at, event.ends_at = at(9, 0), at(17, 0)  # the day of the check-ins
    db.flush()
    return event


def sessions(event):
    plenary, rt1, rt2 = event.sessions
    return plenary.id, rt1.id, rt2.id


def page_texts(pdf: bytes) -> list[str]:
    """Each page's words, single-spaced."""
    return [" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(pdf)).pages]


def text(pdf: bytes) -> str:
    return " ".join(page_texts(pdf))


def listed(pdf: bytes) -> list[str]:
    """The people of the sheet, in their order: "Person X, X" rows."""
    return re.findall(r"Person (\w), \1\b", text(pdf))


def in_order(haystack: str, needles: list[str]) -> bool:
    positions = [haystack.find(n) for n in needles]
    return -1 not in positions and positions == sorted(positions)


def test_event_sheet_lists_the_expected_people_by_type_organisation_and_name(db, event):
    pdf = render_signin(db, event)
    # Cluster: Aerospace Valley (B) before Vegepolys (A, C); then DGE (E), the region (G,
    # a walk-in), the agency (H, confirmed though never at the entrance).
    assert listed(pdf) == ["B", "A", "C", "E", "G", "H"]
    assert "Person D" not in text(pdf)  # cancelled
    assert "Person F" not in text(pdf)  # waitlisted
    assert in_order(text(pdf), TYPE_HEADINGS)
    assert in_order(
        text(pdf),
        [TYPE_HEADINGS[0], "Person B", "Person A", "Person C", "Ministry", "Person E"]
        + ["Region", "Person G", "Public agency", "Person H"],
    )
    assert "Other" not in text(pdf)  # no empty group


def test_names_sort_without_regard_to_case_or_accents(db):
    event = make_event(db)
    for last in ["zola", "Emma", "Émile", "Eluard", "émond", "Abel"]:
        make_registration(db, event, first_name="X", last_name=last)
    expected = ["Abel", "Eluard", "Émile", "Emma", "émond", "zola"]
    assert [r.last_name for r in signin_sheet(db, event).rows] == expected
    assert in_order(text(render_signin(db, event)), [f"{last}, X" for last in expected])


def test_organisations_sort_within_their_type(db):
    event = make_event(db)
    ministry = OrganisationType.MINISTRY
    tag = event.slug  # organisations are shared by every event: names of this test only
    for org, kind, last in [
        ("Zeta", ministry, "Alpha"),
        ("Ademe", OrganisationType.AGENCY, "Alpha"),
        ("élysée", ministry, "Beta"),
        ("Aix cluster", OrganisationType.CLUSTER, "Gamma"),
        ("Élysée", ministry, "Alpha"),
    ]:
        make_registration(
            db, event, last_name=last, organisation=f"{org} {tag}", organisation_type=kind
        )
    rows = signin_sheet(db, event).rows
    assert [(r.organisation, r.last_name) for r in rows] == [
        (f"Aix cluster {tag}", "Gamma"),
        (f"élysée {tag}", "Alpha"),  # one organisation: the first spelling registered is kept
        (f"élysée {tag}", "Beta"),
        (f"Zeta {tag}", "Alpha"),
        (f"Ademe {tag}", "Alpha"),
    ]


def test_session_sheets_list_their_registered_and_their_checked_in(db, event):
    plenary, rt1, rt2 = sessions(event)
    assert listed(render_signin(db, event, rt1)) == ["A", "C"]  # not D, cancelled
    assert listed(render_signin(db, event, rt2)) == ["H"]  # checked in without registering
    assert listed(render_signin(db, event, plenary)) == ["B", "A", "E"]  # not F, waitlisted


def test_present_and_registered_figures(db, event):
    plenary, rt1, rt2 = sessions(event)
    # G, a walk-in, is present but was not expected: in N, not in M.
    assert "3 present / 5 registered" in text(render_signin(db, event))
    assert "1 present / 2 registered" in text(render_signin(db, event, rt1))
    assert "1 present / 0 registered" in text(render_signin(db, event, rt2))
    assert "0 present / 3 registered" in text(render_signin(db, event, plenary))
    sheet = signin_sheet(db, event)
    assert (sheet.present, sheet.registered) == (3, 5)


def test_the_figures_agree_with_the_attendance_report(db, event):
    report = figures(db, event, organisations=False, arrivals=False)
    sheet = signin_sheet(db, event)
    walk_ins = 1  # G
    assert (sheet.present, sheet.registered) == (
        report.totals.present,
        report.totals.confirmed - walk_ins,
    )
    for line in report.by_session:
        sheet = signin_sheet(db, event, line.id)
        assert (sheet.present, sheet.registered) == (line.present, line.confirmed), line.title


def test_someone_cancelled_after_checking_in_stays_listed_but_not_expected(db, event):
    _plenary, rt1, _rt2 = sessions(event)
    a = db.scalar(select(Registration).where(Registration.email == "a@example.org"))
    a.status = RegistrationStatus.CANCELLED
    db.flush()
    whole = render_signin(db, event)
    assert listed(whole) == ["B", "A", "C", "E", "G", "H"]
    assert "3 present / 4 registered" in text(whole)
    session = render_signin(db, event, rt1)
    assert listed(session) == ["A", "C"] and "1 present / 1 registered" in text(session)


def test_a_walk_in_at_a_session_door_counts_as_present_not_as_expected(db, event):
    from tracker.door.services import WalkInData, register_walk_in

    _plenary, _rt1, rt2 = sessions(event)
    walk_in = register_walk_in(
        db,
        event,
        WalkInData("I", "Person I", "Vegepolys", OrganisationType.CLUSTER),
        actor=None,
        door="B",
        session_id=rt2,
        now=at(10, 5),
    )
    assert [s.id for s in walk_in.registration.sessions] == [rt2]  # registered for it
    session = render_signin(db, event, rt2)
    assert listed(session) == ["I", "H"]
    assert "2 present / 0 registered" in text(session)
    assert "3 present / 5 registered" in text(render_signin(db, event))  # not at the entrance


def test_check_in_times_in_the_event_time_zone(db, event):
    _plenary, rt1, rt2 = sessions(event)
    whole = text(render_signin(db, event, with_times=True))
    assert "Checked in at" in whole
    assert re.search(r"Person A, A [^:]*09:02", whole)  # the next time after A is A's
    assert "09:14" in whole and "09:25" in whole
    assert "10:01" in text(render_signin(db, event, rt1, with_times=True))  # A in RT1
    assert "11:00" in text(render_signin(db, event, rt2, with_times=True))  # H in RT2

    blank = text(render_signin(db, event, with_times=False))
    assert "Checked in at" not in blank
    assert not re.search(r"\b\d\d:\d\d\b", blank)


def test_times_by_default_only_once_someone_is_checked_in_there(db, event):
    plenary, rt1, _rt2 = sessions(event)
    assert "09:02" in text(render_signin(db, event))
    assert "10:01" in text(render_signin(db, event, rt1))
    before = text(render_signin(db, event, plenary))  # nobody checked in to the plenary
    assert "Checked in at" not in before and listed(render_signin(db, event, plenary))
    assert not re.search(r"\b\d\d:\d\d\b", before)


def test_a_blank_sheet_before_the_event(db):
    event = make_event(db)
    make_registration(db, event, first_name="Ada", last_name="Lovelace")
    pdf = render_signin(db, event)
    assert "Lovelace, Ada" in text(pdf) and "Checked in at" not in text(pdf)
    assert "0 present / 1 registered" in text(pdf)
    assert "Signature" in text(pdf) and "Whole event" in text(pdf)


def test_a_long_sheet_carries_its_titles_and_page_numbers_on_every_page(db, event):
    _plenary, rt1, _rt2 = sessions(event)
    for n in range(60):
        make_registration(
            db, event, first_name="Extra", last_name=f"Attendee {n:02d}", session_ids=[rt1]
        )
    pages = page_texts(render_signin(db, event, rt1))
    assert len(pages) >= 3
    for number, page in enumerate(pages, start=1):
        assert event.title in page
        assert "Table ronde 1" in page
        assert "Thursday, December 10, 2026" in page
        assert f"Page {number} / {len(pages)}" in page
        assert "Name Organisation Checked in at Signature" in page  # the repeated header
    assert all(f"Attendee {n:02d}" in " ".join(pages) for n in range(60))
    assert "1 present / 62 registered" in pages[-1]

    whole = page_texts(render_signin(db, event))
    assert len(whole) >= 3 and all("Whole event" in page for page in whole)


def test_the_page_is_a4_portrait(db, event):
    box = PdfReader(io.BytesIO(render_signin(db, event))).pages[0].mediabox
    mm = 25.4 / 72
    assert (round(float(box.width) * mm), round(float(box.height) * mm)) == (210, 297)


def test_french_sheet(db, event):
    with force_locale("fr"):
        pdf = render_signin(db, event, with_times=True)
    french = text(pdf)
    assert in_order(
        french,
        ["Pôle de compétitivité", "Ministère", "Région", "Agence ou établissement public"],
    )
    assert "Nom Organisme Arrivée à" in french
    assert "jeudi 10 décembre 2026" in french
    assert "09:02" in french
    assert "Competitiveness cluster" not in french and "Thursday" not in french


def test_a_session_sheet_shows_the_sessions_own_day(db, event):
    _plenary, rt1, _rt2 = sessions(event)
    event.sessions[1].starts_at = at(9, 0).replace(day=11)
    db.flush()
    assert "Friday, December 11, 2026" in text(render_signin(db, event, rt1))


def test_an_event_of_several_days_shows_its_first_and_last_day(db, event):
    event.ends_at = at(17, 0).replace(day=11)
    db.flush()
    assert "Dec 10 – 11, 2026" in text(render_signin(db, event))
    with force_locale("fr"):
        assert "10–11 déc. 2026" in text(render_signin(db, event))


@pytest.mark.parametrize("wrong", [0, -1, 10**12, "1", True, 3.0])
def test_an_unknown_session_is_refused(db, event, wrong):
    with pytest.raises(InvalidChoice) as caught:
        render_signin(db, event, wrong)
    assert caught.value.code == "invalid_choice"
    assert "not part of the event" in str(caught.value.message)


def test_another_events_session_is_refused(db, event):
    other = make_event(db)
    with pytest.raises(InvalidChoice):
        render_signin(db, event, other.sessions[0].id)
    with force_locale("fr"):
        with pytest.raises(InvalidChoice) as caught:
            render_signin(db, event, other.sessions[0].id)
        assert str(caught.value.message) == "Cette session ne fait pas partie de l’événement."


PAYLOADS = [
    '<img src="file:///etc/passwd">',
    "<link rel=attachment href=file:///etc/passwd>",
    "<style>@page{size:A3}body{background:url(file:///etc/passwd)}</style>",
    "<img src=http://127.0.0.1:9/x>",
]


def test_typed_markup_is_printed_as_text_and_reads_nothing(db, fetched):
    event = make_event(db, title='Atelier "); @page { size: A3 } <b>x</b>')
    event.sessions[0].title = '<img src="file:///etc/passwd"> ") } @page { size: A5 }'
    for p in PAYLOADS:
        make_registration(
            db,
            event,
            first_name=p[:100],
            organisation=f"Org {p}"[:200],
            job_title=p[:200],
            session_ids=[event.sessions[0].id],
        )
    db.flush()
    pdf = render_signin(db, event, event.sessions[0].id)
    assert b"root:x:0:0" not in pdf
    assert Path("/etc/passwd").read_bytes()[:20] not in pdf
    pages = page_texts(pdf)
    assert all('Atelier "); @page { size: A3 } <b>x</b>' in page for page in pages)
    assert all('<img src="file:///etc/passwd"> ") } @page { size: A5 }' in page for page in pages)
    assert '<img src="file:///etc/passwd">' in text(pdf)
    assert "<style>@page{size:A3}" in text(pdf)
    assert fetched == []
    box = PdfReader(io.BytesIO(pdf)).pages[0].mediabox
    assert round(float(box.width) * 25.4 / 72) == 210


def test_css_strings_cannot_break_out():
    assert css_string("Page ") == '"Page "'
    escaped = css_string('a"; } @page { x')
    assert '"' not in escaped[1:-1] and ";" not in escaped and "{" not in escaped
    assert css_string("Seite\n") == '"Seite\\a "'


def test_the_sheet_is_two_queries_whatever_the_number_of_people(db, event):
    _plenary, rt1, _rt2 = sessions(event)
    for n in range(30):
        make_registration(db, event, last_name=f"Many {n}", session_ids=[rt1])
    db.flush()
    db.expire_all()
    event = db.get(type(event), event.id)
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    connection = db.connection()
    sa_event.listen(connection, "before_cursor_execute", count)
    try:
        for session_id in (None, rt1):
            statements.clear()
            render_signin(db, event, session_id)
            assert len(statements) <= 2, statements
    finally:
        sa_event.remove(connection, "before_cursor_execute", count)


@pytest.mark.parametrize("before", range(14, 22))
def test_a_type_heading_stays_on_the_page_of_its_first_person(db, before):
    event = make_event(db, title="Heading break")
    for n in range(before):
        make_registration(db, event, first_name="Clara", last_name=f"Cluster {n:02d}")
    make_registration(
        db,
        event,
        first_name="Mina",
        last_name="Minister",
        organisation="DGE",
        organisation_type=OrganisationType.MINISTRY,
    )
    pages = page_texts(render_signin(db, event))
    heading = [page for page in pages if re.search(r"\bMinistry\b", page)]
    assert len(heading) == 1 and "Minister, Mina" in heading[0]
