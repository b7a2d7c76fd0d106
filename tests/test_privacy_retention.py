"""Retention: once an event's retention period has passed, `tracker retention run`
leaves none of its personal data anywhere (every text column of every table, the files
the app writes) and the same figures (the statistics API, the headcount export)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.conftest import (
    leaks,
    login,
    make_event,
    make_registration,
    make_user,
    over,
    readable,
    registration_data,
    texts_in_database,
)
from tracker.checkin.services import check_in, undo_check_in
from tracker.door.services import WalkInData, register_walk_in
from tracker.models import (
    AuditEntry,
    Event,
    OrganisationType,
    OutgoingMail,
    Registration,
    Role,
)
from tracker.privacy import retention
from tracker.questions.services import QuestionSpec, add_question
from tracker.registration.services import cancel_by_organiser, edit_registration


@pytest.fixture
def folders(app, tmp_path, monkeypatch):
    """The folders the app writes to, of this test alone."""
    imports, outbox = tmp_path / "imports", tmp_path / "outbox"
    imports.mkdir()
    monkeypatch.setitem(app.config, "IMPORT_FOLDER", str(imports))
    monkeypatch.setitem(app.config, "MAIL_OUTBOX", str(outbox))
    return [imports, outbox]


def people_of(db, event, organiser):
    """Registrations of every kind, each with names, an address and codes of its own;
    returns what must disappear: every name, address, job title, code and link."""
    plenary, rt1, rt2 = (s.id for s in event.sessions)
    secrets_: list[str] = []
    people = []
    # The event's own question: a long text that only the person wrote.
    needs = add_question(
        db, event, QuestionSpec(label="Besoins particuliers", kind="long_text"), actor=None
    )
    for n, (kind, organisation, sessions) in enumerate(
        [
            (OrganisationType.CLUSTER, "Vegepolys", [plenary, rt1]),
            (OrganisationType.CLUSTER, "Aerospace Valley", [plenary]),
            (OrganisationType.MINISTRY, "DGE", [rt1]),
            (OrganisationType.REGION, "Région Bretagne", [plenary, rt2]),
            (OrganisationType.AGENCY, "Bpifrance", []),
        ]
    ):
        people.append(
            make_registration(
                db,
                event,
                first_name=f"Zéphyrine{n}",
                last_name=f"Quelquejeu{n}",
                email=f"zephyrine.quelquejeu{n}@ministere.example",
                organisation=organisation,
                organisation_type=kind,
                job_title=f"Cheffe de projet Xylophone{n}",
                session_ids=sessions,
                answers={needs.id: [f"Fauteuil roulant Quetzalcoatl{n}\net chien guide"]},
                send_email=True,
            )
        )
        secrets_.append(f"Fauteuil roulant Quetzalcoatl{n}")
    a, b, c, d, e = people
    # An organiser changes an address: the history holds the old and the new one.
    data = registration_data(
        first_name=c.first_name,
        last_name=c.last_name,
        email="zephyrine.nouvelle@ministere.example",
        organisation="DGE",
        organisation_type=OrganisationType.MINISTRY,
        job_title=c.job_title,
        session_ids=[rt1],
        answers={needs.id: ["Fauteuil roulant Quetzalcoatl modifié"]},  # in the history too
    )
    edit_registration(db, c, data, actor=organiser)
    secrets_ += [c.email, "Quetzalcoatl modifié"]
    cancel_by_organiser(db, d, actor=organiser)
    check_in(db, event, actor=organiser, door="Porte A", code=a.checkin_code, nonce="n1")
    check_in(db, event, actor=organiser, door="Porte A", code=a.checkin_code, session_id=rt1)
    check_in(db, event, actor=organiser, door="Porte B", code=b.checkin_code.lower())
    check_in(db, event, actor=organiser, door="Porte B", code=e.checkin_code)
    undo_check_in(db, event, actor=organiser, door="Porte B", code=e.checkin_code)
    walk_in = register_walk_in(
        db,
        event,
        WalkInData(
            "Anatole",
            "Walkinovitch",
            "Région Bretagne",
            OrganisationType.REGION,
            email="anatole.walkinovitch@bretagne.example",
        ),
        actor=organiser,
        door="Porte A",
        override=True,
    )
    people.append(walk_in.registration)
    for person in people:
        secrets_ += [
            person.first_name,
            person.last_name,
            person.email,
            person.checkin_code,
            person.manage_token,
        ]
        if person.job_title:
            secrets_.append(person.job_title)
    return people, secrets_


def texts_in_folders(paths) -> list[str]:
    found = []
    for folder in paths:
        for path in Path(folder).rglob("*"):
            if path.is_file():
                found += readable(path.read_bytes())
    return found


def figures(client, event) -> tuple[dict, bytes, bytes]:
    stats = client.get(f"/api/v1/events/{event.slug}/stats")
    assert stats.status_code == 200
    headcount = client.get(f"/events/{event.slug}/export?what=headcount&format=csv")
    assert headcount.status_code == 200
    by_session = client.get(f"/events/{event.slug}/export?what=headcount&format=csv&separator=;")
    return stats.get_json(), headcount.data, by_session.data


def test_retention_run_leaves_no_personal_data_and_the_same_figures(app, db, client, folders):
    event = make_event(db, capacity=4)
    organiser = make_user(app, db, Role.ORGANISER, [event], email="orga.retention@example.org")
    with app.test_request_context():
        people, secrets_ = people_of(db, event, organiser)
    db.commit()  # their e-mails are sent: kept in the outbox, written to its folder
    assert db.scalar(select(func.count(OutgoingMail.id)))
    # A list waiting to be imported for two days, naming one of them.
    upload = folders[0] / "old.upload"
    upload.write_text(f"first_name,email\n{people[0].first_name},{people[0].email}\n")
    two_days_ago = time.time() - 2 * 24 * 3600
    os.utime(upload, (two_days_ago, two_days_ago))
    over(db, event)
    other = make_event(db)
    kept = make_registration(db, other, first_name="Gardée", email="gardee@example.org")
    # One of them shows their badge at the other event's door.
    code = people[1].checkin_code
    typed = f"{code[:5]}-{code[5:].lower()}"
    check_in(db, other, actor=None, door="Porte C", code=f" {typed} ")
    secrets_.append(typed)
    login(client, organiser)

    assert leaks(texts_in_database(db.connection()), secrets_)  # the search finds them
    assert leaks(texts_in_folders(folders), secrets_)
    before = figures(client, event)
    old_link = f"/r/{people[0].manage_token}"

    result = app.test_cli_runner().invoke(args=["retention", "run"])
    assert result.exit_code == 0, result.output
    assert f"({event.slug})" in result.output
    db.expire_all()

    assert leaks(texts_in_database(db.connection()), secrets_) == []
    assert leaks(texts_in_folders(folders), secrets_) == []
    assert figures(client, event) == before
    for registration in db.scalars(select(Registration).where(Registration.event_id == event.id)):
        assert registration.qr_png == b""
    assert db.get(Event, event.id).anonymised_at is not None
    # Another event keeps its people.
    assert db.get(Registration, kept.id).first_name == "Gardée"
    # The old private link and code lead nowhere.
    assert client.get(old_link).status_code == 404
    # Recorded, without names.
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "event.anonymise"))
    assert entry.event_id == event.id and entry.changes == {"registrations": len(people)}


def test_a_dry_run_says_what_it_would_do_and_changes_nothing(app, db, folders):
    event = make_event(db)
    person = make_registration(db, event)
    over(db, event)
    result = app.test_cli_runner().invoke(args=["retention", "run", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert f"Would anonymise “{event.title}” ({event.slug}): 1 registrations" in result.output
    db.expire_all()
    assert db.get(Registration, person.id).first_name == person.first_name
    assert db.get(Event, event.id).anonymised_at is None


def test_only_events_whose_period_has_passed(app, db, monkeypatch):
    recent, own, later = make_event(db), make_event(db), make_event(db)
    for event in (recent, own, later):
        make_registration(db, event)
    over(db, recent, days=20)
    over(db, own, days=11)
    own.retention_days = 10  # its own period
    over(db, later, days=40)
    with app.app_context():
        assert retention.due_events(db) == [own]
        monkeypatch.setitem(app.config, "RETENTION_DAYS", 30)  # TRACKER_RETENTION_DAYS
        assert retention.due_events(db) == [later, own]
        retention.run(db)
    assert later.anonymised_at is not None and own.anonymised_at is not None
    assert recent.anonymised_at is None
    with app.app_context():
        assert retention.run(db).anonymised == []  # once


def test_organisers_are_warned_once_14_days_before_with_the_exports(app, db, outbox):
    event = make_event(db)
    organiser = make_user(app, db, Role.ORGANISER, [event], email="orga.warned@example.org")
    make_user(app, db, Role.DOOR, [event], email="door.notwarned@example.org")
    over(db, event, days=80)  # anonymised in 10 days
    with app.app_context():
        report = retention.run(db)
        db.commit()
    assert report.warned == [(event, [organiser.email])]
    assert report.anonymised == []
    [message] = outbox.messages
    assert message["To"] == organiser.email
    body = message.get_body(("plain",)).get_content()
    assert f"/events/{event.slug}/export?what=headcount&format=xlsx" in body
    assert f"/events/{event.slug}/export?what=attendees&format=xlsx" in body
    with app.app_context():
        assert retention.run(db).warned == []
        db.commit()
    assert len(outbox.messages) == 1


def test_files_written_more_than_a_day_ago_are_removed(app, db, folders):
    old, fresh = folders[0] / "old.upload", folders[0] / "fresh.upload"
    eml = folders[1]
    eml.mkdir()
    old_mail = eml / "old.eml"
    for path in (old, fresh, old_mail):
        path.write_text("x")
    past = time.time() - 25 * 3600
    os.utime(old, (past, past))
    os.utime(old_mail, (past, past))
    result = app.test_cli_runner().invoke(args=["retention", "run"])
    assert "Removed 2 files written more than a day ago." in result.output
    assert not old.exists() and not old_mail.exists() and fresh.exists()


@pytest.mark.parametrize("value", ["-1", "ninety", "100000"])
def test_a_bad_retention_setting_is_refused_at_start(value):
    from tracker import create_app

    with pytest.raises(RuntimeError, match="TRACKER_RETENTION_DAYS"):
        create_app({"ENV_NAME": "testing", "RETENTION_DAYS": value})


def test_the_scheduled_job_anonymises_what_is_due(app, db):
    from tracker import jobs
    from tracker.privacy.tasks import retention_sweep

    assert "tracker.privacy.tasks" in jobs.TASK_MODULES  # the worker knows it
    event = make_event(db)
    person = make_registration(db, event, first_name="Programmée")
    over(db, event)
    with app.app_context():
        retention_sweep.call_local()
    db.expire_all()
    assert db.get(Registration, person.id).first_name == ""
    assert db.get(Event, event.id).anonymised_at is not None
