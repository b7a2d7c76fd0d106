"""One set of rules for every path that creates or edits an event (the organiser screens,
the command line, the demo): its times in order, sessions within its days, and local
times that the clocks skip or repeat."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from tests.conftest import (
    WORKSHOP_DAY,
    event_form,
    login,
    make_event,
    make_user,
    page_text,
    paris,
    workshop,
)
from tracker.cli import event_create
from tracker.db import utcnow
from tracker.errors import DomainError
from tracker.events import services as event_services
from tracker.events.services import EventSpec, SessionSpec
from tracker.models import Event, Role

# --- sessions within the event's days ----------------------------------------------------


def test_the_session_form_refuses_a_session_on_another_day(client, db, organiser_of):
    event = workshop(db)
    browser = organiser_of(event)
    response = browser.post(
        f"/events/{event.slug}/sessions/new",
        data={"title": "Visite", "starts_at": "2030-12-11T10:00", "ends_at": "2030-12-11T11:00"},
    )
    assert response.status_code == 422
    assert "“Visite” must start and end within the event’s days (December 10, 2030)." in page_text(
        response
    )
    (tr1,) = [s for s in event.sessions if s.title == "Table ronde 1"]
    response = browser.post(
        f"/events/{event.slug}/sessions/{tr1.id}/edit",
        data={"title": tr1.title, "starts_at": "2030-12-10T11:00", "ends_at": "2030-12-11T00:30"},
    )
    assert response.status_code == 422 and "within the event’s days" in page_text(response)
    db.expire_all()
    assert db.get(type(tr1), tr1.id).ends_at == paris(12, 30)


def test_the_services_keep_sessions_within_the_event(db, app_ctx):
    with pytest.raises(DomainError) as refused:
        workshop(
            db,
            sessions=[
                SessionSpec("Veille", starts_at=paris(18, day=WORKSHOP_DAY - timedelta(days=1)))
            ],
        )
    assert refused.value.field == "starts_at"
    event = workshop(db)
    # Moving the event to another day would leave its programme behind.
    moved = EventSpec(
        slug=event.slug,
        title=event.title,
        starts_at=paris(9, day=WORKSHOP_DAY + timedelta(days=7)),
        registration_opens_at=event.registration_opens_at,
    )
    with pytest.raises(DomainError, match="would fall outside the event’s days"):
        event_services.update_event(db, event, moved)


def test_the_programme_shows_the_date_when_the_event_spans_several_days(client, db):
    one_day = workshop(db)
    two_days = workshop(
        db,
        ends_at=paris(13, day=WORKSHOP_DAY + timedelta(days=1)),
        sessions=[
            SessionSpec("Plénière", starts_at=paris(9, 30), ends_at=paris(10, 45)),
            SessionSpec(
                "Visite",
                starts_at=paris(9, day=WORKSHOP_DAY + timedelta(days=1)),
                ends_at=paris(12, day=WORKSHOP_DAY + timedelta(days=1)),
            ),
        ],
    )
    db.commit()
    page = page_text(client.get(f"/events/{two_days.slug}"))
    programme = page[page.index("Programme") :]
    assert re.search(r"Tuesday, December 10, 2030, 9:30\s*AM", programme)
    assert re.search(r"Wednesday, December 11, 2030, 9:00\s*AM", programme)
    single = page_text(client.get(f"/events/{one_day.slug}"))
    assert "Tuesday, December 10, 2030" not in single[single.index("Programme") :]


# --- local times the clocks skip or repeat -----------------------------------------------


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        (
            "2027-03-28T02:30",
            "2027-03-28 02:30 does not exist in Europe/Paris: the clocks go forward that "
            "night. Choose a time outside the skipped hour.",
        ),
        (
            "2027-10-31T02:30",
            "2027-10-31 02:30 happens twice in Europe/Paris: the clocks go back that night. "
            "Choose a time outside the repeated hour.",
        ),
    ],
)
def test_the_event_form_refuses_a_time_the_clocks_skip_or_repeat(app, client, db, typed, message):
    login(client, make_user(app, db, Role.ORGANISER))
    data = event_form(
        slug="changement-d-heure",
        starts_at=typed,
        ends_at=typed[:10] + "T17:00",
        registration_opens_at="2027-01-04T09:00",
        registration_closes_at="",
        edit_deadline="",
    )
    response = client.post("/events/new", data=data)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert re.search(r'id="starts_at-error">([^<]*)<', page).group(1) == html.escape(message)
    db.expire_all()
    assert db.scalar(select(func.count(Event.id)).where(Event.slug == data["slug"])) == 0
    later = client.post("/events/new", data={**data, "starts_at": typed[:11] + "03:30"})
    assert later.status_code == 303


def test_the_session_form_refuses_a_time_the_clocks_skip(client, db, organiser_of):
    event = make_event(db, starts_at=datetime(2027, 3, 28, 7, 0, tzinfo=UTC))  # 09:00
    browser = organiser_of(event)
    response = browser.post(
        f"/events/{event.slug}/sessions/new",
        data={"title": "Nuit", "starts_at": "2027-03-28T08:00", "ends_at": "2027-03-28T09:00"},
    )
    assert response.status_code == 201 or response.status_code == 303
    response = browser.post(
        f"/events/{event.slug}/sessions/new",
        data={"title": "Nuit", "starts_at": "2027-03-28T02:15", "ends_at": "2027-03-28T09:00"},
    )
    assert response.status_code == 422
    assert "2027-03-28 02:15 does not exist in Europe/Paris" in page_text(response)


def test_the_event_form_speaks_french_about_the_skipped_hour(app, client, db):
    login(client, make_user(app, db, Role.ORGANISER))
    data = event_form(
        slug="heure-d-ete",
        starts_at="2027-03-28T02:30",
        ends_at="2027-03-28T17:00",
        registration_opens_at="2027-01-04T09:00",
        registration_closes_at="",
        edit_deadline="",
    )
    response = client.post("/events/new", data=data, headers={"Accept-Language": "fr"})
    assert response.status_code == 422
    assert (
        "2027-03-28 02:30 n’existe pas dans le fuseau Europe/Paris\u00a0: les horloges avancent "
        "cette nuit-là. Choisissez une heure en dehors de l’heure sautée." in page_text(response)
    )


# --- the command line ------------------------------------------------------------------


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def _invoke(runner, *args):
    result = runner.invoke(event_create, list(args))
    assert "Traceback" not in result.output
    return result


def test_cli_refuses_times_the_clocks_skip_or_repeat(runner):
    skipped = _invoke(runner, "ete", "--title", "x", "--starts", "2027-03-28T02:30")
    assert skipped.exit_code != 0
    assert "2027-03-28 02:30 does not exist in Europe/Paris" in skipped.output
    repeated = _invoke(
        runner,
        "hiver",
        "--title",
        "x",
        "--starts",
        "2027-10-31T09:00",
        "--ends",
        "2027-10-31T18:00",
        "--session",
        "Nuit@2027-10-31T02:30/2027-10-31T03:30",
    )
    assert repeated.exit_code != 0
    assert "2027-10-31 02:30 happens twice in Europe/Paris" in repeated.output


def test_cli_refuses_a_registration_window_that_closes_before_it_opens(runner, app):
    result = _invoke(runner, "past", "--title", "x", "--starts", "2020-01-01T09:00")
    assert result.exit_code != 0
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert errors == ["Error: Registration must close after it opens."]
    with app.extensions["db"].sessionmaker() as db:
        assert db.scalar(select(Event).where(Event.slug == "past")) is None


def test_cli_speaks_the_shells_language(runner, monkeypatch):
    monkeypatch.setenv("LC_ALL", "fr_FR.UTF-8")
    result = _invoke(runner, "past", "--title", "x", "--starts", "2020-01-01T09:00")
    assert result.exit_code != 0
    # click's own "Error:" as well, from the same catalogue
    assert "Erreur\u00a0: La clôture des inscriptions doit suivre leur ouverture." in result.output


def test_cli_sessions_with_times_within_the_event(runner, app):
    outside = _invoke(
        runner,
        "cli-programme",
        "--title",
        "x",
        "--starts",
        "2030-12-10T09:00",
        "--session",
        "Table ronde 1@2030-12-10T11:00/12:30",
        "--session",
        "Visite@2030-12-12T10:00/11:00",
    )
    assert outside.exit_code != 0
    assert "“Visite” must start and end within the event’s days" in outside.output
    bad = _invoke(
        runner,
        "cli-programme",
        "--title",
        "x",
        "--starts",
        "2030-12-10T09:00",
        "--session",
        "Table@2030-12-10T11:00/midi",
    )
    assert bad.exit_code != 0 and "--session" in bad.output
    try:
        ok = _invoke(
            runner,
            "cli-programme",
            "--title",
            "x",
            "--starts",
            "2030-12-10T09:00",
            "--session",
            "Table ronde 1@2030-12-10T11:00/12:30",
            "--session",
            "Q&A @ lunch",
        )
        assert ok.exit_code == 0, ok.output
        with app.extensions["db"].sessionmaker() as db:
            event = db.scalar(select(Event).where(Event.slug == "cli-programme"))
            tr1, qa = event.sessions
            assert (tr1.title, tr1.starts_at, tr1.ends_at) == (
                "Table ronde 1",
                paris(11),
                paris(12, 30),
            )
            assert (qa.title, qa.starts_at) == ("Q&A @ lunch", None)
    finally:
        from sqlalchemy import delete

        with app.extensions["db"].sessionmaker.begin() as db:
            db.execute(delete(Event).where(Event.slug == "cli-programme"))


# --- one set of rules for every path that creates or edits an event -----------------------


def _spec(**overrides) -> EventSpec:
    spec = EventSpec(slug="rules", title="Règles", starts_at=paris(9), ends_at=paris(17))
    for key, value in overrides.items():
        setattr(spec, key, value)
    return spec


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"ends_at": paris(8)}, "ends_at", "The event must end after it starts."),
        (
            {"registration_opens_at": paris(10)},
            "registration_closes_at",
            "Registration must close after it opens.",
        ),
        (
            {"starts_at": datetime(2020, 1, 1, 8, tzinfo=UTC), "ends_at": None},
            "registration_closes_at",
            "Registration must close after it opens.",
        ),
        (
            {"registration_opens_at": paris(8), "edit_deadline": paris(7)},
            "edit_deadline",
            "Changes must be allowed until a time after registration opens.",
        ),
        (
            {"edit_deadline": paris(18)},
            "edit_deadline",
            "Changes cannot be allowed after the event ends.",
        ),
        ({"capacity": 1_000_001}, "capacity", "A whole number from 0 to 1000000, please."),
        ({"capacity": -1}, "capacity", "A whole number from 0 to 1000000, please."),
        ({"type_quotas": {"cluster": -1}}, "type_quotas", "Invalid quota for cluster."),
        ({"title": " "}, "title", "The title is required."),
        ({"timezone": "Mars/Olympus"}, "timezone", "Unknown time zone: Mars/Olympus"),
    ],
)
def test_create_and_update_check_the_same_rules(db, app_ctx, overrides, field, message):
    with pytest.raises(DomainError) as created:
        event_services.create_event(db, _spec(**overrides))
    assert (created.value.field, str(created.value.message)) == (field, message)
    event = make_event(db, starts_at=paris(9))
    spec = _spec(slug=event.slug, registration_opens_at=event.registration_opens_at)
    spec.registration_opens_at = overrides.get("registration_opens_at", spec.registration_opens_at)
    for key, value in overrides.items():
        if key != "registration_opens_at":
            setattr(spec, key, value)
    with pytest.raises(DomainError) as updated:
        event_services.update_event(db, event, spec)
    assert (updated.value.field, str(updated.value.message)) == (field, message)


def test_the_organiser_edit_form_refuses_an_edit_deadline_after_the_end(client, db, organiser_of):
    event = workshop(db)
    browser = organiser_of(event)
    data = event_form(
        starts_at="2030-12-10T09:00",
        ends_at="2030-12-10T17:00",
        registration_opens_at="2030-10-01T08:00",
        registration_closes_at="2030-12-10T09:00",
        edit_deadline="2030-12-11T09:00",
    )
    response = browser.post(f"/events/{event.slug}/edit", data=data)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Changes cannot be allowed after the event ends." in html.unescape(
        re.search(r'id="edit_deadline-error">([^<]*)<', page).group(1)
    )


def test_the_demo_goes_through_the_same_rules(db, app_ctx, monkeypatch):
    from tracker import demo

    calls = []
    original = event_services._settings

    def spy(spec, opens):
        calls.append(spec.slug)
        return original(spec, opens)

    monkeypatch.setattr(event_services, "_settings", spy)
    event, _ = demo.seed_demo(db, now=utcnow())
    assert calls == [demo.DEMO_SLUG] and event.registration_closes_at > event.registration_opens_at


def test_every_path_that_creates_an_event_writes_the_audit_entry(runner, app, db, app_ctx):
    """The command line and the demo write the entry the organiser screens write
    (tests/test_organiser_events.py): who (nobody: a shell), and the settings."""
    from tracker import demo
    from tracker.models import AuditEntry

    try:
        created = _invoke(
            runner, "cli-audited", "--title", "Audité", "--starts", "2030-12-10T09:00"
        )
        assert created.exit_code == 0, created.output
        seeded, _added = demo.seed_demo(db, now=utcnow())
        with app.extensions["db"].sessionmaker() as other:
            cli_event = other.scalar(select(Event).where(Event.slug == "cli-audited"))
            (entry,) = other.scalars(
                select(AuditEntry).where(AuditEntry.event_id == cli_event.id)
            ).all()
            assert (entry.action, entry.user_id) == ("event.create", None)
            assert entry.changes["title"] == [None, "Audité"]
            assert datetime.fromisoformat(entry.changes["starts_at"][1]) == paris(9)
        (demo_entry,) = db.scalars(
            select(AuditEntry).where(
                AuditEntry.event_id == seeded.id, AuditEntry.action == "event.create"
            )
        ).all()
        assert demo_entry.changes["slug"] == [None, demo.DEMO_SLUG]
    finally:
        from sqlalchemy import delete

        with app.extensions["db"].sessionmaker.begin() as other:
            other.execute(delete(Event).where(Event.slug == "cli-audited"))


def test_the_command_line_names_fields_as_the_screens_do():
    """A time the clocks skip is refused on the command line with the field the
    organiser's form and the service name (starts_at, ends_at), not the option's."""
    from tracker.cli import _parse_local

    for option, field in [("--starts", "starts_at"), ("--ends", "ends_at")]:
        with pytest.raises(DomainError) as refused:
            _parse_local("2027-03-28T02:30", "Europe/Paris", option, field)
        assert refused.value.field == field
