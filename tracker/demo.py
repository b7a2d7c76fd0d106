"""The demo event: the Bercy workshop on the internationalisation of competitiveness
clusters, with about 130 plausible registrations from real organisations."""

from __future__ import annotations

import csv
import json
import random
import unicodedata
from datetime import date, datetime, time, timedelta
from importlib import resources

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from tracker.db import utcnow
from tracker.events.services import EventSpec, SessionSpec, create_event, zone
from tracker.models import Event, OrganisationType, QuestionKind
from tracker.questions.services import QuestionSpec, add_question
from tracker.registration.organisations import find_or_create_organisation
from tracker.registration.services import RegistrationData, register

DEMO_SLUG = "bercy-2012"
TIMEZONE = "Europe/Paris"
# How many people of each type, as reported for the real event (~130, ~60 from clusters).
DEMO_COUNTS = {"cluster": 60, "ministry": 30, "region": 22, "agency": 18}
# What a few of them write under "Besoins d'accessibilité".
ACCESS_NEEDS = (
    "Je me déplace en fauteuil roulant : une place accessible en salle, s'il vous plaît.",
    "Malentendant : une boucle magnétique dans l'amphithéâtre m'aiderait.",
    "Accompagnée de mon chien guide.",
)

FIRST_NAMES = (
    "Camille Claire Sophie Isabelle Nathalie Anne Marie Julie Céline Hélène Émilie Aurélie "
    "Sandrine Valérie Françoise Laure Élodie Agnès Inès Chloé Léa Zoé Maëlle Noémie "
    "Thomas Nicolas Julien Pierre François Laurent Philippe Olivier Sébastien Jérôme "
    "Stéphane Christophe Frédéric Mathieu Benoît Guillaume Antoine Rémi Hervé Loïc Yannick "
    "Karim Mehdi Samir Nadia Yasmine Hugo Gaël Anaïs Bérénice"
).split()
LAST_NAMES = (
    "Martin Bernard Dubois Thomas Robert Richard Petit Durand Leroy Moreau Simon Laurent "
    "Lefèvre Michel Garcia David Bertrand Roux Vincent Fournier Morel Girard André Lefebvre "
    "Mercier Dupont Lambert Bonnet François Martinez Legrand Garnier Faure Rousseau Blanc "
    "Guérin Muller Henry Roussel Nicolas Perrin Morin Mathieu Clément Gauthier Dumont Lopez "
    "Fontaine Chevalier Robin Le Gall Le Goff Kerbrat Ben Ahmed Nguyen Da Silva Hoareau "
    "Lemaître Saint-Martin Boyer Barbier"
).split()
JOB_TITLES = {
    "cluster": [
        "Directeur général",
        "Directrice générale",
        "Chargée de mission international",
        "Chargé d'affaires Europe",
        "Responsable développement international",
    ],
    "ministry": [
        "Chef de bureau",
        "Adjointe au chef de bureau",
        "Chargé de mission pôles",
        "Sous-directrice",
        "Conseiller technique",
    ],
    "region": [
        "Chargée de mission innovation",
        "Directeur de l'économie",
        "Responsable international",
        "Chef de service développement économique",
    ],
    "agency": [
        "Chargé d'affaires",
        "Responsable partenariats",
        "Directrice de programme",
        "Chef de projet international",
    ],
}


def _load_facts() -> tuple[dict, list[dict[str, str]]]:
    base = resources.files("tracker") / "demo_data"
    facts = json.loads((base / "bercy-2012-event.json").read_text(encoding="utf-8"))
    with (base / "organisations.csv").open(encoding="utf-8") as f:
        organisations = list(csv.DictReader(f))
    return facts, organisations


def _ascii(s: str) -> str:
    decomposed = unicodedata.normalize("NFKD", s)
    kept = "".join(c for c in decomposed if c.isalnum() or c in " -")
    return kept.encode("ascii", "ignore").decode().lower().replace(" ", "-")


def _domain(organisation: str) -> str:
    short = organisation.split("(")[-1].rstrip(")") if "(" in organisation else organisation
    return f"{_ascii(short)[:30].strip('-')}.example"


# France's public holidays that fall on a fixed date (month, day).
FIXED_HOLIDAYS = {(1, 1), (5, 1), (5, 8), (7, 14), (8, 15), (11, 1), (11, 11), (12, 25)}


def _working_day(day: date) -> date:
    """`day`, or the next day that is neither a weekend nor a fixed public holiday: a
    ministry's workshop is not held on a Saturday or on Christmas Day."""
    while day.weekday() >= 5 or (day.month, day.day) in FIXED_HOLIDAYS:
        day += timedelta(days=1)
    return day


def seed_demo(db: DbSession, *, now: datetime | None = None) -> tuple[Event, int]:
    """Create the demo event and its registrations; a second call adds nothing.
    Returns the event and how many registrations were added."""
    existing = db.scalar(select(Event).where(Event.slug == DEMO_SLUG))
    if existing is not None:
        return existing, 0
    now = now or utcnow()
    facts, organisations = _load_facts()
    tz = zone(TIMEZONE)
    day = _working_day((now.astimezone(tz) + timedelta(weeks=4)).date())

    def at(hh: int, mm: int) -> datetime:
        return datetime.combine(day, time(hh, mm), tzinfo=tz)

    programme = [
        SessionSpec(
            "Séance plénière d'ouverture", "plenary", "Amphithéâtre", at(9, 30), at(10, 45), None
        ),
        *[
            SessionSpec(s["title"], s["kind"], room, at(*start), at(*end), capacity)
            for s, room, start, end, capacity in zip(
                facts["sessions"],
                ["Salle 1", "Salle 2", "Amphithéâtre"],
                [(11, 0), (11, 0), (14, 0)],
                [(12, 30), (12, 30), (15, 30)],
                [80, 80, 150],
                strict=True,
            )
        ],
    ]
    event = create_event(
        db,
        EventSpec(
            slug=DEMO_SLUG,
            title=facts["title"],
            organiser=facts["organiser"],
            venue=facts["venue"],
            timezone=TIMEZONE,
            starts_at=at(9, 0),
            ends_at=at(17, 0),
            capacity=150,
            # Each cluster sends one or two people (the demo's clusters send one each).
            per_organisation_types={"cluster": 2},
            description=(
                "Une journée d'échanges entre les pôles de compétitivité, les ministères, les "
                "régions et les agences publiques sur l'internationalisation des pôles : deux "
                "tables rondes et un focus sur l'intelligence économique."
            ),
            registration_opens_at=now - timedelta(days=7),
            sessions=programme,
        ),
        actor=None,
        now=now,
    )

    lunch, diet, needs, speaker = (
        add_question(db, event, spec, actor=None)
        for spec in (
            QuestionSpec("Déjeuner sur place", QuestionKind.YES_NO, required=True),
            QuestionSpec(
                "Régime alimentaire",
                QuestionKind.CHOICE,
                choices=["Aucun", "Végétarien", "Sans gluten", "Autre"],
            ),
            QuestionSpec("Besoins d'accessibilité", QuestionKind.LONG_TEXT),
            QuestionSpec("Intervenant", QuestionKind.YES_NO, on_badge=True, at_door=True),
        )
    )
    answering = random.Random(2013)  # their answers: apart, so that the people stay the same

    def answers() -> dict[int, list[str]]:
        given = {lunch.id: ["yes" if answering.random() < 0.8 else "no"]}
        if answering.random() < 0.7:
            given[diet.id] = [
                answering.choice(["Aucun"] * 6 + ["Végétarien"] * 3 + ["Sans gluten"])
            ]
        if answering.random() < 0.03:
            given[needs.id] = [answering.choice(ACCESS_NEEDS)]
        if answering.random() < 0.05:
            given[speaker.id] = ["yes"]
        return given

    rng = random.Random(2012)  # the same people on every machine
    by_type: dict[str, list[dict[str, str]]] = {}
    for row in organisations:
        by_type.setdefault(row["type"], []).append(row)
    plenary, tr1, tr2, focus = event.sessions
    added = 0
    used_emails: set[str] = set()
    for type_, count in DEMO_COUNTS.items():
        for i in range(count):
            org = by_type[type_][i % len(by_type[type_])]
            find_or_create_organisation(
                db, org["name"], OrganisationType(type_), listed=True
            ).region = org["region"] or None
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            email = f"{_ascii(first)}.{_ascii(last)}@{_domain(org['name'])}"
            while email in used_emails:
                email = email.replace("@", f"{rng.randint(2, 9)}@", 1)
            used_emails.add(email)
            chosen = [plenary.id, rng.choice([tr1.id, tr2.id])]
            if rng.random() < 0.6:
                chosen.append(focus.id)
            register(
                db,
                event,
                RegistrationData(
                    first_name=first,
                    last_name=last,
                    email=email,
                    organisation=org["name"],
                    organisation_type=OrganisationType(type_),
                    job_title=rng.choice(JOB_TITLES[type_]),
                    session_ids=chosen,
                    consent=True,
                    locale="fr",
                    answers=answers(),
                ),
                now=now,
                send_email=False,  # made-up people at made-up addresses
            )
            added += 1
    return event, added
