"""French and European names: found by what is typed on a plain keyboard, one
organisation however its apostrophes and hyphens are typed, and listed in French
alphabetical order ("Œuvray" among the O's, "Élodie" among the E's, "de Gaulle" among
the D's), wherever people and organisations are listed."""

from __future__ import annotations

import csv
import re
import time
from importlib import resources

import pytest
from sqlalchemy import select

from tests.conftest import login, make_event, make_registration, make_user
from tracker.auth.services import create_token
from tracker.badges.services import select_registrations
from tracker.models import Organisation, OrganisationType, Registration, Role
from tracker.registration.identity import email_key
from tracker.registration.importer import import_file
from tracker.registration.organisations import find_or_create_organisation
from tracker.reports.services import figures
from tracker.reports.signin import signin_sheet
from tracker.text import fold, sort_key

pytestmark = pytest.mark.usefixtures("app_ctx")


def real_organisations() -> list[tuple[str, OrganisationType]]:
    """The organisations of the demo's real workshop (Bercy, 2012)."""
    path = resources.files("tracker") / "demo_data" / "organisations.csv"
    with path.open(encoding="utf-8") as f:
        return [(row["name"], OrganisationType(row["type"])) for row in csv.DictReader(f)]


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


# --- listed in French order --------------------------------------------------------------------

# In French alphabetical order; in the order of their bytes (or of a database's default
# collation) "de Gaulle", "Élodie" and "Œuvray" come after "Zola".
LAST_NAMES = ["Abadie", "de Gaulle", "Dupont", "Élan", "Emery", "Œuvray", "Øre", "Oudin", "Zola"]


def test_french_order_of_the_examples():
    names = ["Zola", "Œuvray", "Oudin", "élodie", "Emile", "Élodie", "de Gaulle", "Dupont"]
    ordered = sorted(names, key=sort_key)
    assert ordered == [
        "de Gaulle",
        "Dupont",
        "élodie",
        "Élodie",
        "Emile",
        "Œuvray",
        "Oudin",
        "Zola",
    ]


def test_the_door_lists_its_results_in_french_order(client, db, event, door_headers):
    for last_name in reversed(LAST_NAMES):
        make_registration(db, event, last_name=last_name, organisation="Atlanpole Biotherapies")
    found = search(client, event, door_headers, "atlanpole")
    assert [r["last_name"] for r in found] == LAST_NAMES


def test_the_door_keeps_the_first_results_in_french_order(client, db, event, door_headers):
    """The door shows the first 20: the first 20 in French order, not in the database's."""
    for n in range(20):
        make_registration(db, event, first_name="Anne", last_name=f"Petit {n:02d}")
    oeuvray = make_registration(db, event, first_name="Anne", last_name="Œuvray")
    found = search(client, event, door_headers, "anne")
    assert len(found) == 20
    assert found[0]["id"] == oeuvray.id  # among the O's, before "Petit"
    assert [r["last_name"] for r in found][1:] == [f"Petit {n:02d}" for n in range(19)]


def test_the_organiser_list_is_in_french_order_across_pages(app, client, db, event):
    organiser = make_user(app, db, Role.ORGANISER, [event], email="orga.names@example.org")
    login(client, organiser)
    people = {"de Gaulle": None, "Œuvray": None, "Zola": None, "Élan": None}
    for last_name in people:
        people[last_name] = make_registration(db, event, last_name=last_name).id
    martins = [make_registration(db, event, last_name=f"Martin {n:02d}").id for n in range(48)]
    pages = []
    for page in (1, 2):
        html = client.get(
            f"/events/{event.slug}/registrations", query_string={"page": page}
        ).get_data(as_text=True)
        pages.append([int(i) for i in re.findall(r'<tr data-registration="(\d+)"', html)])
    assert pages[0] == [people["de Gaulle"], people["Élan"], *martins]
    assert pages[1] == [people["Œuvray"], people["Zola"]]


def test_organisation_suggestions_are_in_french_order(client, db):
    names = ["Conseil régional d'Île-de-France", "Cœur de France", "Céréales Vallée", "Cap Digital"]
    for name in names:
        find_or_create_organisation(db, name, OrganisationType.CLUSTER, listed=True)
    found = client.get("/organisations.json", query_string={"q": "c"}).get_json()
    shown = [o["name"] for o in found if o["name"] in names]
    assert shown == [
        "Cap Digital",
        "Céréales Vallée",
        "Cœur de France",
        "Conseil régional d'Île-de-France",
    ]
    found = client.get("/organisations.json", query_string={"q": "coeur"}).get_json()
    assert [o["name"] for o in found] == ["Cœur de France"]


def test_the_sign_in_sheet_is_in_french_order(db, event):
    """The real organisations of the Bercy workshop, plus "Œnologie de France", with
    people whose names French order places among the others."""
    organisations = [*real_organisations(), ("Œnologie de France", OrganisationType.CLUSTER)]
    for n, (name, kind) in enumerate(reversed(organisations)):
        make_registration(
            db, event, organisation=name, organisation_type=kind, last_name=f"Personne {n:03d}"
        )
    for last_name in reversed(LAST_NAMES):
        make_registration(db, event, organisation="Pôle Mer Bretagne", last_name=last_name)
    sheet = signin_sheet(db, event)
    clusters = [o for g in sheet.groups if g.type == OrganisationType.CLUSTER for o in g.rows]
    order = list(dict.fromkeys(row.organisation for row in clusters))
    assert len(order) == len([o for o in organisations if o[1] == OrganisationType.CLUSTER])

    def before(*names: str) -> bool:
        return [order.index(n) for n in names] == sorted(order.index(n) for n in names)

    assert order[0] == "Advancity" and order[-1] == "Xylofutur"
    assert before("Nutrition Santé Longévité", "Œnologie de France", "Optitec")
    assert before("Capenergies", "Céréales Vallée", "Cosmetic Valley")
    assert before("Dream", "Elastopôle", "Elopsys", "EMC2", "Eurobiomed")
    assert before("Optitec", "Pégase", "Plastipolis", "Pôle Européen de la Céramique")
    assert before("Team2", "Techtera", "Tenerrdis", "Transactions Électroniques Sécurisées")
    people = [row.last_name for row in clusters if row.organisation == "Pôle Mer Bretagne"]
    assert [p for p in people if not p.startswith("Personne")] == LAST_NAMES
    ministries = [
        row.organisation
        for g in sheet.groups
        if g.type == OrganisationType.MINISTRY
        for row in g.rows
    ]
    assert ministries.index("Ministère de l'Écologie du Développement durable et de l'Énergie") < (
        ministries.index("Ministère de l'Économie et des Finances")
    )


def test_statistics_and_the_headcount_list_organisations_in_french_order(db, event):
    for name in ["Zénith Lorraine", "Œnologie de France", "OSEO", "Ubifrance", "Élastopôle Sud"]:
        make_registration(db, event, organisation=name)
    names = [line.name for line in figures(db, event, sort="name").by_organisation]
    assert names == ["Élastopôle Sud", "Œnologie de France", "OSEO", "Ubifrance", "Zénith Lorraine"]


def test_badges_are_in_french_order(db, event):
    for last_name in reversed(LAST_NAMES):
        make_registration(db, event, last_name=last_name)
    assert [r.last_name for r in select_registrations(db, event)] == LAST_NAMES
