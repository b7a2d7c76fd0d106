"""The PDF attendance report: the event, the headline figures, the tables, the charts,
page numbers and the time it was made."""

from __future__ import annotations

import io

from pypdf import PdfReader

from tests.conftest import attendance_event, make_registration
from tracker.reports.report import render_report


def pages_text(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def test_the_report_carries_the_figures_and_charts(app_ctx, db):
    event = attendance_event(db)
    pdf = render_report(db, event)
    pages = pages_text(pdf)
    text = "\n".join(pages)
    assert "Attendance report" in text and "Atelier interministériel" in text
    assert "Generated on" in text
    for heading in ("By type of organisation", "By session", "Arrivals", "By organisation"):
        assert heading in text
    assert "Cluster 3 3 2 1 33.3%" in text
    assert "Table ronde 1 2 2 1 1" in text
    assert "Région Pays de la Loire Region 1 1 0" in text
    for number, page in enumerate(pages, 1):
        assert f"Page {number} / {len(pages)}" in page
    # The three charts are drawn as vector graphics: their labels are text in the PDF.
    assert "Registered and present by type of organisation" in text
    assert "Arrivals per 10 minutes, by door" in text


def test_a_long_report_repeats_the_event_and_page_numbers(app_ctx, db):
    event = attendance_event(db)
    for i in range(120):
        make_registration(db, event, organisation=f"Organisation {i:03d}", first_name=f"P{i}")
    pages = pages_text(render_report(db, event))
    assert len(pages) >= 3
    for number, page in enumerate(pages[1:], 2):
        assert "Atelier interministériel" in page
        assert f"Page {number} / {len(pages)}" in page


def test_organisation_names_cannot_reach_the_file_system(app_ctx, db):
    event = attendance_event(db)
    make_registration(
        db, event, organisation='<img src="file:///etc/passwd"> url(file:///etc/hosts)'
    )
    pdf = render_report(db, event)
    text = "\n".join(pages_text(pdf))
    assert '<img src="file:///etc/passwd">' in text.replace("\n", "")
    assert b"root:x:0:0" not in pdf


def test_a_session_row_says_who_was_present_without_registering(app_ctx, db):
    # Table ronde 2: nobody registered, H let in: "1 present" beside "0 registered" and
    # "0 no-shows" is said, not left to read as an error.
    event = attendance_event(db)
    text = " ".join("\n".join(pages_text(render_report(db, event))).split())
    assert "Table ronde 2 0 0 1 (of whom 1 not registered) 0" in text
    assert "1 / 0 (1 not registered)" in text
    assert "Table ronde 1 2 2 1 1" in text  # nothing to say
