"""The audit log's actions: one enumeration, each with its label in French and English,
and a registration's history that names every action (old rows with an action no
longer known still show)."""

from __future__ import annotations

import pytest
from flask_babel import force_locale

from tests.conftest import login, make_event, make_registration, make_user, page_text
from tracker import audit
from tracker.audit import ACTION_LABELS, AuditAction, action_label
from tracker.door.services import WalkInData, register_walk_in
from tracker.models import OrganisationType, Role


@pytest.mark.parametrize("action", list(AuditAction))
def test_every_action_has_a_label_in_both_languages(app_ctx, action):
    label = ACTION_LABELS[action]
    with force_locale("en"):
        english = str(label)
    with force_locale("fr"):
        french = str(label)
    assert english and english != action.value
    assert french and french != english, f"{action.value}: no French label"


def test_an_action_no_longer_known_is_shown_as_written(app_ctx):
    assert action_label("registration.cancel") == "Cancelled"
    assert action_label("checkin.undo") == "checkin.undo"


def test_a_walk_ins_history_names_the_walk_in(app, client, db):
    event = make_event(db)
    door = make_user(app, db, Role.DOOR, [event])
    organiser = make_user(app, db, Role.ORGANISER, [event])
    done = register_walk_in(
        db,
        event,
        WalkInData("Léa", "Martin", "Cap Digital", OrganisationType.CLUSTER),
        actor=door,
        door="Porte A",
    )
    other = make_registration(db, event)
    audit.record(db, actor=None, action=AuditAction.REGISTRATION_RESEND, registration=other)
    db.execute(
        audit.AuditEntry.__table__.update()
        .where(audit.AuditEntry.registration_id == other.id)
        .values(action="registration.archived")
    )
    db.flush()
    login(client, organiser)
    page = page_text(client.get(f"/events/{event.slug}/registrations/{done.registration.id}"))
    history = page[page.index('id="history"') :]
    assert "Registered at the door (walk-in)" in history
    assert "walk_in</td>" not in "".join(history.split())
    old = page_text(client.get(f"/events/{event.slug}/registrations/{other.id}"))
    assert "registration.archived" in old[old.index('id="history"') :]
