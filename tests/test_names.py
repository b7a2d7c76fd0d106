"""French and European names: found by what is typed on a plain keyboard, one
organisation however its apostrophes and hyphens are typed."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from tests.conftest import make_event, make_registration
from tests.test_organiser_events import make_user
from tracker.auth.services import create_token
from tracker.models import Organisation, OrganisationType, Registration, Role
from tracker.registration.importer import import_file
from tracker.registration.services import email_key, find_or_create_organisation
from tracker.text import fold

pytestmark = pytest.mark.usefixtures("app_ctx")


@pytest.fixture
def event(db):
    return make_event(db, capacity=500)


@pytest.fixture
def door_headers(app, db, event):
    user = make_user(app, db, Role.DOOR, [event], email=f"door.{time.monotonic_ns()}@example.org")
    token, _record = create_token(db, user, "Door A")
    return {"Authorization": f"Bearer {token}"}


def search(client, event, headers, q: str) -> list[dict]:
    response = client.get(
        f"/api/v1/events/{event.slug}/registrations", query_string={"q": q}, headers=headers
    )
    assert response.status_code == 200
    return response.get_json()["registrations"]


# --- found by what a plain keyboard types ------------------------------------------------------


@pytest.mark.parametrize(
    "first_name, last_name, typed",
    [
        ("Agnès", "Œuvray", "oeuvray"),
        ("Władysław", "Woźniak", "wladyslaw wozniak"),
        ("Søren", "Øre", "ore"),
        ("Jürgen", "Straße", "strasse"),
        ("Anne", "Straße", "STRASSE anne"),
    ],
)
def test_the_door_finds_a_name_by_its_plain_letters(
    client, db, event, door_headers, first_name, last_name, typed
):
    person = make_registration(db, event, first_name=first_name, last_name=last_name)
    make_registration(db, event, first_name="Marc", last_name="Dupont")
    found = search(client, event, door_headers, typed)
    assert [r["id"] for r in found] == [person.id]
    assert found[0]["last_name"] == last_name  # shown as it was typed


def test_the_door_finds_an_organisation_whatever_its_apostrophes_and_hyphens(
    client, db, event, door_headers
):
    person = make_registration(
        db, event, organisation="Mairie de Ville-d’Avray", organisation_type=OrganisationType.OTHER
    )
    make_registration(db, event, organisation="Mairie de Villebon")
    for typed in ("ville-d'avray", "ville d avray", "Ville d’Avray", "ville‐d‘avray", "avray"):
        assert [r["id"] for r in search(client, event, door_headers, typed)] == [person.id]
    coeur = make_registration(db, event, organisation="Cœur de France")
    assert [r["id"] for r in search(client, event, door_headers, "coeur")] == [coeur.id]


@pytest.mark.parametrize(
    "typed",
    [
        ["Cœur de France", "Coeur de France", "COEUR DE FRANCE", "cœur  de france"],
        ["Ville-d'Avray", "Ville d’Avray", "Ville d‘Avray", "Ville dʼAvray", "Ville‐d'Avray"],
        ["Ville-d'Avray", "Ville – d'Avray", "Ville d Avray", " ville - d ' avray "],
        ["Øresund Science Region", "Oresund Science Region"],
        ["Politechnika Łódzka", "Politechnika Lodzka"],
        ["Straßburg Stadt", "Strassburg Stadt"],
    ],
)
def test_names_typed_differently_are_one_organisation(db, event, typed):
    registrations = [make_registration(db, event, organisation=name) for name in typed]
    assert len({r.organisation_id for r in registrations}) == 1
    assert registrations[-1].organisation.name == " ".join(typed[0].split())  # the first kept


def test_the_import_and_the_form_find_the_same_organisation(client, db, event):
    listed = find_or_create_organisation(
        db, "Cœur de France", OrganisationType.CLUSTER, listed=True
    )
    report = import_file(
        db,
        event,
        "invitees.csv",
        b"first_name,last_name,email,organisation,organisation_type\n"
        b"Anne,Moreau,anne.moreau@example.org,COEUR DE FRANCE,cluster\n",
        actor=None,
    )
    assert len(report.imported) == 1
    imported = db.scalar(
        select(Registration).where(Registration.email == "anne.moreau@example.org")
    )
    assert imported.organisation_id == listed.id
    assert db.scalar(select(Organisation.name).where(Organisation.id == listed.id)) == (
        "Cœur de France"
    )


def test_addresses_are_not_transliterated():
    """Two addresses that differ by a letter are two addresses, even if a name would
    fold alike."""
    assert email_key(" Œuvray@Example.ORG ") == "œuvray@example.org"
    assert email_key("lukasz@example.pl") != email_key("łukasz@example.pl")


def test_the_folding_of_the_examples():
    assert fold("Œuvray") == "oeuvray"
    assert fold("Władysław") == "wladyslaw"
    assert fold("Øre") == "ore"
    assert fold("Straße") == "strasse"
    assert fold("Ville-d'Avray") == fold("Ville d’Avray") == "ville d avray"
    assert fold("Cœur de France") == fold("Coeur de France") == "coeur de france"
