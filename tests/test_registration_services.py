"""The registration use cases, called directly."""

from __future__ import annotations

import base64
import io
from datetime import timedelta

import pytest
import segno
import zxingcpp
from PIL import Image
from sqlalchemy import func, select

from tests.conftest import make_event, make_registration, registration_data
from tracker.db import utcnow
from tracker.errors import (
    AlreadyRegistered,
    EditClosed,
    InvalidChoice,
    RegistrationClosed,
    SessionFull,
)
from tracker.events.services import SessionSpec
from tracker.models import Organisation, OrganisationType, Registration
from tracker.registration import services
from tracker.registration.identity import organisation_key
from tracker.registration.services import (
    CANCELLED,
    CONFIRMED,
    WAITLISTED,
    availability,
    cancel_registration,
    update_registration,
)

pytestmark = pytest.mark.usefixtures("app_ctx")


def test_confirmed_while_places_remain_then_waitlisted(db):
    event = make_event(db, capacity=2)
    first = make_registration(db, event)
    second = make_registration(db, event)
    third = make_registration(db, event)
    assert [first.status, second.status, third.status] == [CONFIRMED, CONFIRMED, WAITLISTED]
    assert availability(db, event).event_full


def test_unlimited_event_confirms_everyone(db):
    event = make_event(db, capacity=None)
    assert all(make_registration(db, event).status == CONFIRMED for _ in range(5))
    assert availability(db, event).event_left is None


def test_type_quota_waitlists_that_type_only(db):
    event = make_event(db, capacity=10, type_quotas={"cluster": 1})
    cluster = make_registration(db, event, organisation_type=OrganisationType.CLUSTER)
    second_cluster = make_registration(db, event, organisation_type=OrganisationType.CLUSTER)
    ministry = make_registration(
        db, event, organisation_type=OrganisationType.MINISTRY, organisation="Ministère X"
    )
    assert cluster.status == CONFIRMED
    assert second_cluster.status == WAITLISTED
    assert ministry.status == CONFIRMED
    assert availability(db, event).type_left == {"cluster": 0}


def test_quotas_and_session_seats_are_exact_as_the_event_fills_up_to_them(db):
    """Counts that cannot decide are skipped (a type or a session never has more
    confirmed people than the event): at each boundary the answer is still exact."""
    event = make_event(
        db,
        capacity=10,
        type_quotas={"cluster": 2},
        sessions=[SessionSpec("Table ronde", capacity=2)],
    )
    table = [event.sessions[0].id]
    cluster, ministry = OrganisationType.CLUSTER, OrganisationType.MINISTRY
    assert make_registration(db, event, organisation_type=ministry, session_ids=table).status == (
        CONFIRMED
    )
    assert make_registration(db, event, organisation_type=cluster, session_ids=table).status == (
        CONFIRMED
    )
    with pytest.raises(SessionFull):  # 2 confirmed in all, both at the table
        make_registration(db, event, organisation_type=cluster, session_ids=table)
    assert make_registration(db, event, organisation_type=cluster).status == CONFIRMED
    assert make_registration(db, event, organisation_type=cluster).status == WAITLISTED
    assert make_registration(db, event, organisation_type=ministry).status == CONFIRMED


def test_same_address_twice_is_refused_whatever_its_case(db):
    event = make_event(db)
    first = make_registration(db, event, email="Anne.Dupont@Example.org")
    with pytest.raises(AlreadyRegistered) as caught:
        make_registration(db, event, email="  anne.dupont@example.ORG ")
    assert caught.value.registration.id == first.id
    count = db.scalar(select(func.count()).where(Registration.event_id == event.id))
    assert count == 1


def test_same_address_may_register_at_another_event(db):
    a, b = make_event(db), make_event(db)
    make_registration(db, a, email="anne@example.org")
    assert make_registration(db, b, email="anne@example.org").status == CONFIRMED


def test_a_cancelled_person_registering_again_gets_a_new_registration(db):
    event = make_event(db, capacity=1)
    first = make_registration(db, event, email="anne@example.org")
    cancel_registration(db, first)
    again = make_registration(db, event, email="anne@example.org", first_name="Anne")
    assert again.id != first.id and first.status == CANCELLED
    assert again.status == CONFIRMED and again.first_name == "Anne"


def test_organisation_names_are_one_whatever_the_spelling(db):
    event = make_event(db)
    a = make_registration(db, event, organisation="Vegepolys")
    b = make_registration(db, event, organisation="  VEGEPOLYS ")
    c = make_registration(db, event, organisation="Végépolys")
    assert a.organisation_id == b.organisation_id == c.organisation_id
    assert a.organisation.name == "Vegepolys"
    assert organisation_key(" Pôle  Mer\tBretagne ") == organisation_key("pole mer bretagne")
    names = db.scalars(select(Organisation.name).where(Organisation.name_key == "vegepolys"))
    assert list(names) == ["Vegepolys"]


def test_names_are_kept_as_typed_apart_from_outer_spaces(db):
    event = make_event(db)
    r = make_registration(db, event, first_name="  Łukasz ", last_name="Żółć-李 👩‍🔬")
    assert (r.first_name, r.last_name) == ("Łukasz", "Żółć-李 👩‍🔬")


def test_registration_window(db):
    now = utcnow()
    later = make_event(db, registration_opens_at=now + timedelta(days=1))
    with pytest.raises(RegistrationClosed):
        make_registration(db, later)
    closed = make_event(db, registration_closes_at=now - timedelta(minutes=1))
    with pytest.raises(RegistrationClosed):
        make_registration(db, closed)


def test_consent_is_required(db):
    with pytest.raises(InvalidChoice) as caught:
        make_registration(db, make_event(db), consent=False)
    assert caught.value.field == "consent"


def test_only_the_events_own_sessions_can_be_chosen(db):
    event, other = make_event(db), make_event(db)
    with pytest.raises(InvalidChoice):
        make_registration(db, event, session_ids=[other.sessions[0].id])


def test_a_full_session_refuses_the_registration_without_saving(db):
    event = make_event(db, sessions=[SessionSpec("Table ronde", capacity=1)])
    table = event.sessions[0].id
    make_registration(db, event, session_ids=[table])
    before = db.scalar(select(func.count(Registration.id)))
    with pytest.raises(SessionFull):
        make_registration(db, event, session_ids=[table])
    assert db.scalar(select(func.count(Registration.id))) == before
    assert availability(db, event).session_left == {table: 0}


def test_secrets_are_long_distinct_and_the_qr_encodes_the_checkin_code(db):
    r = make_registration(db, make_event(db))
    assert r.checkin_code != r.manage_token
    assert len(base64.b32decode(r.checkin_code + "======")) == 16  # 128 bits
    assert len(r.manage_token) >= 43  # 256 bits in URL-safe base64
    assert r.checkin_code.isupper() and r.checkin_code.isalnum()
    (found,) = zxingcpp.read_barcodes(Image.open(io.BytesIO(r.qr_png)))
    assert found.text == r.checkin_code
    # Version 2 (25 modules) with a 4-module quiet zone, 8 pixels per module.
    assert Image.open(io.BytesIO(r.qr_png)).size == (33 * 8, 33 * 8)
    assert segno.make(r.checkin_code, error="m", micro=False).version == 2


def test_cancelling_promotes_the_first_waitlisted(db):
    event = make_event(db, capacity=1)
    confirmed = make_registration(db, event)
    first_waiting = make_registration(db, event)
    second_waiting = make_registration(db, event)
    promoted = cancel_registration(db, confirmed)
    assert promoted == [first_waiting]
    assert (confirmed.status, first_waiting.status, second_waiting.status) == (
        CANCELLED,
        CONFIRMED,
        WAITLISTED,
    )
    assert confirmed.cancelled_at is not None


def test_promotion_respects_type_quotas_and_keeps_the_queue(db):
    event = make_event(db, capacity=2, type_quotas={"cluster": 1})
    ministry = make_registration(db, event, organisation_type=OrganisationType.MINISTRY)
    make_registration(db, event, organisation_type=OrganisationType.CLUSTER)
    waiting_cluster = make_registration(db, event, organisation_type=OrganisationType.CLUSTER)
    waiting_region = make_registration(db, event, organisation_type=OrganisationType.REGION)
    promoted = cancel_registration(db, ministry)
    assert promoted == [waiting_region]
    assert waiting_cluster.status == WAITLISTED


def test_promotion_drops_full_sessions_instead_of_overbooking(db):
    event = make_event(db, capacity=2, sessions=[SessionSpec("Table ronde", capacity=1)])
    table = event.sessions[0].id
    holder = make_registration(db, event, session_ids=[table])
    other = make_registration(db, event)
    waiting = make_registration(db, event, session_ids=[table])
    assert waiting.status == WAITLISTED
    cancel_registration(db, other)
    assert waiting.status == CONFIRMED and waiting.sessions == []
    assert [s.id for s in holder.sessions] == [table]


def test_edit_changes_details_and_keeps_secrets(db):
    event = make_event(db)
    r = make_registration(db, event)
    code, token = r.checkin_code, r.manage_token
    data = registration_data(
        first_name="Claire", organisation="Minalogic", session_ids=[event.sessions[1].id]
    )
    update_registration(db, r, data)
    assert r.first_name == "Claire" and r.organisation.name == "Minalogic"
    assert [s.id for s in r.sessions] == [event.sessions[1].id]
    assert (r.checkin_code, r.manage_token) == (code, token)


def test_edit_cannot_take_an_address_already_registered(db):
    event = make_event(db)
    make_registration(db, event, email="taken@example.org")
    r = make_registration(db, event)
    with pytest.raises(InvalidChoice) as caught:
        update_registration(db, r, registration_data(email="TAKEN@example.org"))
    assert caught.value.field == "email"


def test_edit_keeps_a_held_seat_in_a_full_session(db):
    event = make_event(db, sessions=[SessionSpec("Table ronde", capacity=1)])
    table = event.sessions[0].id
    r = make_registration(db, event, session_ids=[table])
    update_registration(db, r, registration_data(session_ids=[table], first_name="Anne"))
    assert r.first_name == "Anne"


def test_edit_into_a_full_type_quota_is_refused(db):
    event = make_event(db, type_quotas={"cluster": 1})
    make_registration(db, event, organisation_type=OrganisationType.CLUSTER)
    r = make_registration(db, event, organisation_type=OrganisationType.MINISTRY)
    with pytest.raises(InvalidChoice) as caught:
        update_registration(db, r, registration_data(organisation_type=OrganisationType.CLUSTER))
    assert caught.value.field == "organisation_type"


def test_no_edit_or_cancel_after_the_deadline(db):
    event = make_event(db)
    r = make_registration(db, event)
    after = event.edit_deadline + timedelta(seconds=1)
    with pytest.raises(EditClosed):
        update_registration(db, r, registration_data(), now=after)
    with pytest.raises(EditClosed):
        cancel_registration(db, r, now=after)
    assert r.status == CONFIRMED


def test_get_by_token_refuses_unknown_and_malformed_tokens(db):
    r = make_registration(db, make_event(db))
    assert services.get_by_token(db, r.manage_token) is r
    from tracker.errors import NotFound

    for token in ["", "x", r.checkin_code, r.manage_token[:-1] + "?", "a" * 500]:
        with pytest.raises(NotFound):
            services.get_by_token(db, token)
