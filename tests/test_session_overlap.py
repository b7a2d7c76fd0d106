"""Sessions held at the same time cannot both be chosen: on the public form, the private
page, by an organiser (unless ticked), in an import; and what the forms show of each
session."""

from __future__ import annotations

import re

from tests.conftest import (
    form_data,
    ids,
    make_registration,
    page_text,
    paris,
    registration_count,
    registration_data,
    workshop,
)
from tracker.events import services as event_services
from tracker.events.services import SessionSpec
from tracker.models import Registration, RegistrationSource
from tracker.registration import importer
from tracker.registration import services as registrations

OVERLAP = "“Table ronde 1” and “Table ronde 2” take place at the same time: choose one of them."


# --- the rule itself -----------------------------------------------------------------


def test_which_sessions_overlap(db, app_ctx):
    event = workshop(db)
    plenary, tr1, tr2, focus, free = event.sessions
    assert registrations.overlapping([plenary, tr1, focus, free]) is None  # back to back
    assert registrations.overlapping([tr2, plenary, tr1]) == (tr1, tr2)  # programme order
    assert registrations.overlapping([tr1, tr2], held={tr1.id, tr2.id}) is None
    assert registrations.overlapping([tr1, tr2], held={tr1.id}) == (tr1, tr2)
    started_only = SessionSpec("Cocktail", starts_at=paris(11, 30))
    cocktail = event_services.add_session(db, event, started_only)
    assert registrations.overlapping([tr1, cocktail]) is None  # no end: no interval


# --- the public form and the private page ---------------------------------------------


def test_the_form_shows_each_sessions_time_room_and_places_left(client, db):
    event = workshop(db)
    make_registration(db, event, session_ids=ids(event, "Table ronde 1"))
    db.commit()
    page = page_text(client.get(f"/events/{event.slug}/register"))
    items = re.findall(r"<li>(.*?)</li>", page, re.S)
    tr1 = next(i for i in items if "Table ronde 1" in i)
    assert "11:00" in tr1 and "12:30" in tr1 and "Salle 1" in tr1
    assert "79 places left" in tr1
    plenary = next(i for i in items if "Plénière" in i)
    assert "9:30" in plenary and "Amphithéâtre" in plenary and "places left" not in plenary
    assert "Sessions held at the same time cannot both be chosen." in page


def test_the_form_refuses_two_round_tables_at_once(client, db):
    event = workshop(db)
    db.commit()
    data = form_data(sessions=[str(i) for i in ids(event, "Table ronde 1", "Table ronde 2")])
    response = client.post(f"/events/{event.slug}/register", data=data)
    assert response.status_code == 422
    assert OVERLAP in page_text(response)
    assert registration_count(db, event) == 0
    fine = form_data(
        sessions=[
            str(i)
            for i in ids(
                event, "Plénière", "Table ronde 2", "Focus intelligence économique", "Atelier libre"
            )
        ]
    )
    assert client.post(f"/events/{event.slug}/register", data=fine).status_code == 303


def test_the_form_speaks_french(client, db):
    event = workshop(db)
    db.commit()
    data = form_data(sessions=[str(i) for i in ids(event, "Table ronde 1", "Table ronde 2")])
    response = client.post(
        f"/events/{event.slug}/register", data=data, headers={"Accept-Language": "fr"}
    )
    assert response.status_code == 422
    assert (
        "«\u00a0Table ronde 1\u00a0» et «\u00a0Table ronde 2\u00a0» ont lieu en même temps\u00a0: "
        "choisissez l’une "
        "des deux." in page_text(response)
    )


def test_the_private_page_refuses_a_second_round_table(client, db):
    event = workshop(db)
    person = make_registration(db, event, session_ids=ids(event, "Table ronde 1"))
    db.commit()
    data = form_data(
        first_name=person.first_name,
        last_name=person.last_name,
        email=person.email,
        sessions=[str(i) for i in ids(event, "Table ronde 1", "Table ronde 2")],
    )
    response = client.post(f"/r/{person.manage_token}/edit", data=data)
    assert response.status_code == 422 and OVERLAP in page_text(response)
    db.expire_all()
    assert [s.title for s in db.get(Registration, person.id).sessions] == ["Table ronde 1"]
    edit_page = page_text(client.get(f"/r/{person.manage_token}/edit"))
    assert "Salle 2" in edit_page and "80 places left" in edit_page


def test_sessions_an_organiser_allowed_do_not_block_the_persons_own_edit(db, app_ctx):
    event = workshop(db)
    both = ids(event, "Table ronde 1", "Table ronde 2")
    person = registrations.add_registration(
        db,
        event,
        registration_data(session_ids=both),
        actor=None,
        source=RegistrationSource.MANUAL,
        allow_overlap=True,
    )
    data = registration_data(email=person.email, first_name="Camille-Anne", session_ids=both)
    registrations.update_registration(db, person, data)
    assert person.first_name == "Camille-Anne" and len(person.sessions) == 2


# --- organisers, imports, the door ---------------------------------------------------------


def test_an_organiser_adds_someone_to_both_only_when_ticked(client, db, organiser_of):
    event = workshop(db)
    browser = organiser_of(event)
    data = form_data(sessions=[str(i) for i in ids(event, "Table ronde 1", "Table ronde 2")])
    url = f"/events/{event.slug}/registrations/new"
    response = browser.post(url, data=data)
    assert response.status_code == 422
    page = page_text(response)
    assert OVERLAP in page and "Tick “Allow sessions held at the same time” to save anyway." in page
    assert "Salle 1" in page and "80 places left" in page  # times, rooms, places
    assert registration_count(db, event) == 0
    response = browser.post(url, data={**data, "allow_overlap": "y"})
    assert response.status_code == 303
    assert registration_count(db, event) == 1


def test_an_organiser_edit_is_refused_then_allowed(client, db, organiser_of):
    event = workshop(db)
    person = make_registration(db, event, session_ids=ids(event, "Table ronde 1"))
    browser = organiser_of(event)
    url = f"/events/{event.slug}/registrations/{person.id}"
    data = form_data(
        first_name=person.first_name,
        last_name=person.last_name,
        email=person.email,
        sessions=[str(i) for i in ids(event, "Table ronde 1", "Table ronde 2")],
    )
    data.pop("consent")
    response = browser.post(url, data=data)
    assert response.status_code == 422 and OVERLAP in page_text(response)
    db.expire_all()
    assert len(db.get(Registration, person.id).sessions) == 1
    assert browser.post(url, data={**data, "allow_overlap": "y"}).status_code == 303
    db.expire_all()
    assert len(db.get(Registration, person.id).sessions) == 2


def test_an_imported_row_with_both_round_tables_is_refused_with_its_reason(db, app_ctx):
    event = workshop(db)
    content = (
        b"first_name;last_name;email;organisation;organisation_type;job_title;sessions\r\n"
        b"Anne;Roux;anne@example.org;ADEME;agency;;Table ronde 1\r\n"
        b"Paul;Roux;paul@example.org;ADEME;agency;;Table ronde 1|Table ronde 2\r\n"
    )
    report = importer.import_file(db, event, "list.csv", content, actor=None)
    assert [row.line for row in report.imported] == [2]
    (refused,) = report.refused
    assert refused.line == 3 and refused.reasons == [f"sessions: {OVERLAP}"]


def test_a_walk_in_is_registered_for_the_one_session_of_the_door(db, app_ctx):
    from tracker.door.services import WalkInData, register_walk_in
    from tracker.models import OrganisationType

    event = workshop(db)
    (tr2,) = ids(event, "Table ronde 2")
    walk_in = register_walk_in(
        db,
        event,
        WalkInData("Denis", "Lefèvre", "Région", OrganisationType.REGION),
        actor=None,
        door="A",
        session_id=tr2,
    )
    assert [s.id for s in walk_in.registration.sessions] == [tr2]
