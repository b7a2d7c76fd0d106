"""Dates, times and rates as a reader of each language expects them, in a page, an
e-mail and a PDF: the day and both times of an event ("lundi 4 janvier 2027, 09:00 –
17:00"), never seconds or a numeric zone, and percentages in the locale's own pattern
("33,3 %" in French, "33.3%" in English).
"""

from __future__ import annotations

import re
import subprocess
from datetime import UTC, datetime

import pytest

from tests.conftest import Outbox, attendance_event, make_event, make_registration
from tracker.reports.report import render_report

START = datetime(2027, 1, 4, 8, 0, tzinfo=UTC)  # 09:00 in Paris
END = datetime(2027, 1, 4, 16, 0, tzinfo=UTC)  # 17:00
THIN = "\u2009"  # around the dash of an interval, as the locale's pattern has it

SPAN = {
    "fr": f"lundi 4 janvier 2027, 09:00{THIN}–{THIN}17:00",
    "en": f"Monday, January 4, 2027, 9:00\u202fAM{THIN}–{THIN}5:00\u202fPM",
}
TWO_DAYS = {
    "fr": f"lundi 4 janvier 2027, 09:00{THIN}–{THIN}mardi 5 janvier 2027, 17:00",
    "en": (
        f"Monday, January 4, 2027, 9:00\u202fAM{THIN}–{THIN}Tuesday, January 5, 2027, 5:00\u202fPM"
    ),
}
# What a reader must never see: seconds, a numeric zone, a zone's long name.
NOT_SHOWN = re.compile(r"\d:\d\d:\d\d|[+-]0[01]00|UTC\+|heure normale|Standard Time")


def january_event(db, **overrides):  # type: ignore[no-untyped-def]
    spec = {
        "starts_at": START,
        "ends_at": END,
        "registration_opens_at": datetime(2026, 11, 1, tzinfo=UTC),
        **overrides,
    }
    return make_event(db, **spec)


@pytest.mark.parametrize("language", ["fr", "en"])
def test_the_event_page_shows_the_day_and_both_times(client, db, language):
    event = january_event(db)
    two_days = january_event(db, ends_at=END.replace(day=5))
    db.commit()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = language

    page = client.get(f"/events/{event.slug}").text
    other = client.get(f"/events/{two_days.slug}").text

    assert SPAN[language] in page
    assert TWO_DAYS[language] in other
    shown = re.sub(r"<[^>]*>", "", page + other)  # not the <time datetime="..."> values
    assert not NOT_SHOWN.search(shown)


@pytest.mark.parametrize("language", ["fr", "en"])
def test_the_e_mail_shows_the_day_and_both_times(app, db, outbox: Outbox, language):
    event = january_event(db)
    registration = make_registration(
        db, event, locale=language, now=datetime(2026, 12, 1, tzinfo=UTC), send_email=True
    )
    db.commit()  # the confirmation is queued by the registration, written by the job

    (message,) = outbox.to(registration.email)
    for kind in ("plain", "html"):
        part = message.get_body(preferencelist=(kind,))
        assert part is not None
        text = part.get_content()
        assert SPAN[language] in text
        assert not NOT_SHOWN.search(text)


def pdf_text(pdf: bytes) -> str:
    """The text of a PDF as pdftotext reads it, spaces of every width as one."""
    out = subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True
    ).stdout.decode()
    return re.sub(r"[ \u00a0\u2009\u202f]+", " ", out)


@pytest.mark.parametrize(
    ("language", "span", "rate", "generated"),
    [
        ("fr", "4 janvier 2027, 09:00 – 17:00", "33,3 %", "Produit le"),
        ("en", "January 4, 2027, 9:00 AM – 5:00 PM", "33.3%", "Generated on"),
    ],
)
def test_the_report_pdf_shows_the_span_and_the_locale_s_percentages(
    app, db, language, span, rate, generated
):
    event = attendance_event(db)
    event.starts_at, event.ends_at = START, END
    db.flush()
    with app.test_request_context("/", headers={"Accept-Language": language}):
        text = pdf_text(render_report(db, event))

    assert span in text
    assert rate in text  # the clusters' no-show rate: 1 of 3
    line = next(line for line in text.splitlines() if generated in line)
    assert re.search(r"\d{1,2}:\d\d\b", line) and not NOT_SHOWN.search(line), line
    assert not NOT_SHOWN.search(text)


@pytest.mark.parametrize(
    ("language", "expected"),
    [("fr", ["39,5\u00a0%", "100\u00a0%", "0\u00a0%"]), ("en", ["39.5%", "100%", "0%"])],
)
def test_percentages_follow_the_locale_s_pattern(app, language, expected):
    from tracker.i18n import percent

    with app.test_request_context("/", headers={"Accept-Language": language}):
        assert [percent(0.395), percent(1.0), percent(0.0)] == expected
        assert percent(None) == "–"


@pytest.mark.parametrize(
    ("language", "labels"),
    [
        ("fr", ["10/12/2026 23:50", "11/12/2026 00:00"]),
        ("en", ["12/10/26 23:50", "12/11/26 00:00"]),
    ],
)
def test_a_timeline_across_midnight_dates_its_slots_in_the_reader_s_language(app, language, labels):
    from zoneinfo import ZoneInfo

    from tracker.reports.services import Figures, Slot

    paris = ZoneInfo("Europe/Paris")
    slots = [
        Slot(datetime(2026, 12, 10, 23, 50, tzinfo=paris), {"A": 1}),
        Slot(datetime(2026, 12, 11, 0, 0, tzinfo=paris), {"A": 2}),
    ]
    figures = Figures(totals=None, by_type={}, by_session=[], timeline=slots)  # type: ignore[arg-type]
    with app.test_request_context("/", headers={"Accept-Language": language}):
        assert figures.slot_labels == labels
    figures.timeline = slots[1:]  # one day: the times alone
    assert figures.slot_labels == ["00:00"]
