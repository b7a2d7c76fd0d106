"""Door check-in at the service level: what each scan answers, and what it stores."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from tests.conftest import make_event, make_registration
from tracker.api.answers import checkin_answer
from tracker.auth.services import create_user
from tracker.checkin import services
from tracker.db import utcnow
from tracker.errors import InvalidChoice
from tracker.models import AuditEntry, CheckIn, OrganisationType, Role, ScanLog
from tracker.registration.services import cancel_registration

pytestmark = pytest.mark.usefixtures("app_ctx")


# The services as the API calls them: the answer (status and JSON body, the API's
# contract) is made by tracker.api.answers and kept in the scan log with the attempt.
def check_in(*args, **kwargs):
    return services.check_in(*args, answer=checkin_answer, **kwargs)


def undo_check_in(*args, **kwargs):
    return services.undo_check_in(*args, answer=checkin_answer, **kwargs)


@pytest.fixture
def event(db):
    return make_event(db)


@pytest.fixture
def staff(db, event):
    return create_user(db, "door.a@example.org", "a long door password", Role.DOOR, [event])


def count(db, model, *where):
    return db.scalar(select(func.count()).select_from(model).where(*where))


def test_a_confirmed_code_checks_in_once(db, event, staff):
    person = make_registration(db, event, first_name="Hélène", organisation="Pôle Végépolys Valley")
    outcome = check_in(db, event, actor=staff, door="Door A", code=person.checkin_code)
    assert outcome.result == "ok"
    assert outcome.answer.status == 201
    shown = outcome.answer.body["registration"]
    assert shown["id"] == person.id
    assert shown["first_name"] == "Hélène"
    assert shown["organisation"] == "Pôle Végépolys Valley"
    assert shown["organisation_type"] == "cluster"
    assert shown["checked_in_at"] is not None
    stored = db.scalars(select(CheckIn).where(CheckIn.registration_id == person.id)).one()
    assert (stored.scope, stored.door, stored.user_id) == (0, "Door A", staff.id)


def test_a_second_scan_says_when_where_and_by_whom(db, event, staff):
    person = make_registration(db, event)
    other = create_user(db, "door.b@example.org", "another door password", Role.DOOR, [event])
    first_time = utcnow() - timedelta(minutes=5)
    check_in(db, event, actor=staff, door="Door A", code=person.checkin_code, now=first_time)
    again = check_in(db, event, actor=other, door="Door B", code=person.checkin_code)
    assert again.result == "already_checked_in"
    assert again.answer.status == 409
    assert again.answer.body["checked_in_at"] == first_time.isoformat()
    assert again.answer.body["door"] == "Door A"
    assert again.answer.body["by"] == "door.a@example.org"
    assert count(db, CheckIn, CheckIn.registration_id == person.id) == 1


def test_unknown_and_other_events_codes_are_refused(db, event, staff):
    elsewhere = make_registration(db, make_event(db))
    unknown = check_in(db, event, actor=staff, door="A", code="A" * 26)
    assert (unknown.result, unknown.answer.status) == ("unknown", 404)
    assert unknown.answer.body == {"result": "unknown", "reason": "unknown_code"}
    other = check_in(db, event, actor=staff, door="A", code=elsewhere.checkin_code)
    assert (other.result, other.answer.status) == ("unknown", 404)
    assert other.answer.body["reason"] == "other_event"
    by_id = check_in(db, event, actor=staff, door="A", registration_id=elsewhere.id)
    assert by_id.answer.body["reason"] == "other_event"
    assert count(db, CheckIn, CheckIn.registration_id == elsewhere.id) == 0


def test_waitlisted_and_cancelled_people_are_not_checked_in(db, staff):
    event = make_event(db, capacity=1)
    staff.events.append(event)
    confirmed = make_registration(db, event)
    waiting = make_registration(db, event)
    assert waiting.status == "waitlisted"
    cancel_registration(db, confirmed)  # promotes `waiting`
    assert confirmed.status == "cancelled"
    third = make_registration(db, event)
    assert third.status == "waitlisted"

    for person, status in ((third, "waitlisted"), (confirmed, "cancelled")):
        outcome = check_in(db, event, actor=staff, door="A", code=person.checkin_code)
        assert (outcome.result, outcome.answer.status) == ("not_confirmed", 422)
        assert outcome.answer.body["status"] == status
        assert outcome.answer.body["registration"]["id"] == person.id
        assert count(db, CheckIn, CheckIn.registration_id == person.id) == 0


def test_codes_are_read_whatever_the_case_spaces_and_dashes(db, event, staff):
    person = make_registration(db, event)
    code = person.checkin_code
    typed = " " + "-".join(code[i : i + 4] for i in range(0, len(code), 4)).lower() + " \n"
    outcome = check_in(db, event, actor=staff, door="A", code=typed)
    assert outcome.result == "ok"
    assert outcome.answer.body["registration"]["id"] == person.id
    assert services.normalise_code(typed) == code


def test_a_session_is_checked_in_independently_of_the_entrance(db, event, staff):
    person = make_registration(db, event, session_ids=[event.sessions[1].id])
    table = event.sessions[1].id
    at_session = check_in(
        db, event, actor=staff, door="Room 2", code=person.checkin_code, session_id=table
    )
    assert at_session.result == "ok"
    assert at_session.answer.body["registration"]["checked_in_at"] is None
    assert str(table) in at_session.answer.body["registration"]["session_checkins"]
    entrance = check_in(db, event, actor=staff, door="Hall", code=person.checkin_code)
    assert entrance.result == "ok"
    again = check_in(
        db, event, actor=staff, door="Room 2", code=person.checkin_code, session_id=table
    )
    assert again.result == "already_checked_in"
    assert again.answer.body["door"] == "Room 2"
    other_table = check_in(
        db,
        event,
        actor=staff,
        door="Room 3",
        code=person.checkin_code,
        session_id=event.sessions[2].id,
    )
    assert other_table.result == "ok"
    counters = services.counters(db, event)
    assert counters["present"] == 1
    assert [s["present"] for s in counters["sessions"]] == [0, 1, 1]


def test_registered_only_refuses_a_session_someone_did_not_register_for(db, event, staff):
    plenary, table = event.sessions[0], event.sessions[1]
    person = make_registration(db, event, session_ids=[table.id])
    registered = make_registration(db, event, session_ids=[plenary.id])

    def scan(who, session=plenary, **kwargs):
        return check_in(
            db, event, actor=staff, door="Plenary", code=who.checkin_code,
            session_id=session.id if session else None, **kwargs,
        )  # fmt: skip

    refused = scan(person, registered_only=True, nonce="scan-1")
    assert (refused.result, refused.answer.status) == ("not_registered", 409)
    assert refused.answer.body["session"] == {"id": plenary.id, "title": plenary.title}
    assert refused.answer.body["registration"]["id"] == person.id
    assert refused.answer.body["registration"]["session_checkins"] == {}
    assert count(db, CheckIn, CheckIn.registration_id == person.id) == 0
    # Retried with the same nonce: the same answer, logged once.
    assert scan(person, registered_only=True, nonce="scan-1").answer.body == refused.answer.body

    # Registered for it, or at the entrance: checked in as always.
    assert scan(registered, registered_only=True).result == "ok"
    assert scan(person, session=None, registered_only=True).result == "ok"

    # Let in anyway (the same request without registered_only), retried: counted once.
    anyway = scan(person, nonce="scan-2")
    assert (anyway.result, anyway.answer.status) == ("ok", 201)
    assert scan(person, nonce="scan-2").answer.body == anyway.answer.body
    assert (
        count(db, CheckIn, CheckIn.registration_id == person.id, CheckIn.scope == plenary.id) == 1
    )
    # Scanned again, asking: already checked in there, not "not registered".
    assert scan(person, registered_only=True).result == "already_checked_in"

    logged = db.execute(
        select(ScanLog.result, ScanLog.status_code, ScanLog.session_title, ScanLog.nonce)
        .where(ScanLog.registration_id == person.id)
        .order_by(ScanLog.id)
    ).all()
    assert logged == [
        ("not_registered", 409, plenary.title, "scan-1"),
        ("ok", 201, None, None),
        ("ok", 201, plenary.title, "scan-2"),
        ("already_checked_in", 409, plenary.title, None),
    ]
    assert str(services.SCAN_LABELS["not_registered"]) == "Scan: not registered for the session"


def test_without_registered_only_a_session_check_in_is_as_it_always_was(db, event, staff):
    person = make_registration(db, event)  # no session at all
    outcome = check_in(
        db, event, actor=staff, door="A", code=person.checkin_code,
        session_id=event.sessions[0].id,
    )  # fmt: skip
    assert (outcome.result, outcome.answer.status) == ("ok", 201)
    assert set(outcome.answer.body) == {"result", "registration"}


def test_a_session_of_another_event_is_refused(db, event, staff):
    person = make_registration(db, event)
    foreign = make_event(db).sessions[0].id
    with pytest.raises(InvalidChoice):
        check_in(db, event, actor=staff, door="A", code=person.checkin_code, session_id=foreign)
    assert count(db, CheckIn, CheckIn.registration_id == person.id) == 0


def test_undo_removes_only_that_check_in(db, event, staff):
    person = make_registration(db, event)
    table = event.sessions[0].id
    check_in(db, event, actor=staff, door="A", code=person.checkin_code)
    check_in(db, event, actor=staff, door="A", code=person.checkin_code, session_id=table)

    undone = undo_check_in(db, event, actor=staff, door="A", code=person.checkin_code)
    assert (undone.result, undone.answer.status) == ("undone", 200)
    assert undone.answer.body["registration"]["checked_in_at"] is None
    assert str(table) in undone.answer.body["registration"]["session_checkins"]

    twice = undo_check_in(db, event, actor=staff, door="A", code=person.checkin_code)
    assert (twice.result, twice.answer.status) == ("not_checked_in", 404)
    unknown = undo_check_in(db, event, actor=staff, door="A", code="B" * 26)
    assert (unknown.result, unknown.answer.status) == ("unknown", 404)

    # Checked in again after the undo: a new check-in.
    again = check_in(db, event, actor=staff, door="B", code=person.checkin_code)
    assert again.result == "ok"


def test_every_attempt_is_logged_with_who_when_where_and_the_answer(db, event, staff):
    person = make_registration(db, event)
    table = event.sessions[1]
    now = utcnow()
    for _ in range(2):
        check_in(db, event, actor=staff, door="A", code=person.checkin_code, now=now)
    check_in(db, event, actor=staff, door="B", code="nonsense", now=now)
    check_in(
        db, event, actor=staff, door="C", code=person.checkin_code, session_id=table.id, now=now
    )
    undo_check_in(db, event, actor=staff, door="A", code=person.checkin_code, now=now)

    logged = db.execute(
        select(
            ScanLog.result,
            ScanLog.user_id,
            ScanLog.at,
            ScanLog.door,
            ScanLog.session_title,
            ScanLog.registration_id,
        )
        .where(ScanLog.event_id == event.id)
        .order_by(ScanLog.id)
    ).all()
    assert logged == [
        ("ok", staff.id, now, "A", None, person.id),
        ("already_checked_in", staff.id, now, "A", None, person.id),
        ("unknown", staff.id, now, "B", None, None),
        ("ok", staff.id, now, "C", table.title, person.id),
        ("undone", staff.id, now, "A", None, person.id),
    ]
    # The scan log is the record of door actions: not written to the audit log again.
    assert count(db, AuditEntry, AuditEntry.registration_id == person.id) == 0


def test_a_retry_after_an_undo_gives_the_first_answer_and_changes_nothing(db, event, staff):
    person = make_registration(db, event)
    first = check_in(db, event, actor=staff, door="A", code=person.checkin_code, nonce="scan-1")
    undo_check_in(db, event, actor=staff, door="A", code=person.checkin_code)

    retry = check_in(db, event, actor=staff, door="A", code=person.checkin_code, nonce="scan-1")

    assert retry.result == "ok" and retry.answer.body == first.answer.body
    db.expire_all()
    assert count(db, CheckIn, CheckIn.registration_id == person.id) == 0
    assert [c.scope for c in person.checkins] == []
    results = db.scalars(select(ScanLog.result).order_by(ScanLog.id)).all()
    assert results == ["ok", "undone"]


def test_the_same_nonce_gives_the_first_answer_and_counts_once(db, event, staff):
    person = make_registration(db, event)
    first = check_in(db, event, actor=staff, door="A", code=person.checkin_code, nonce="scan-1")
    retry = check_in(db, event, actor=staff, door="A", code=person.checkin_code, nonce="scan-1")
    assert first.result == retry.result == "ok"
    assert retry.answer.status == 201
    assert retry.answer.body == first.answer.body
    assert count(db, CheckIn, CheckIn.registration_id == person.id) == 1
    assert count(db, ScanLog, ScanLog.event_id == event.id) == 1
    # A new nonce is a new scan: already checked in.
    other = check_in(db, event, actor=staff, door="A", code=person.checkin_code, nonce="scan-2")
    assert other.result == "already_checked_in"
    # A nonce is per event: the same value at another event is another scan.
    event2 = make_event(db)
    person2 = make_registration(db, event2)
    elsewhere = check_in(
        db, event2, actor=None, door="A", code=person2.checkin_code, nonce="scan-1"
    )
    assert elsewhere.result == "ok"


def test_search_ignores_case_and_accents_and_needs_every_word(db, event):
    helene = make_registration(
        db,
        event,
        first_name="Hélène",
        last_name="Lefèvre",
        email="h.lefevre@interieur.gouv.fr",
        organisation="Ministère de l'Intérieur",
        organisation_type=OrganisationType.MINISTRY,
    )
    marc = make_registration(
        db, event, first_name="Marc", last_name="Lefebvre", organisation="Végépolys"
    )
    make_registration(db, make_event(db), first_name="Hélène", last_name="Lefèvre")

    def ids(query, **kwargs):
        return [r.id for r in services.search(db, event, query, **kwargs)]

    assert ids("helene") == [helene.id]
    assert ids("LEFEVRE") == [helene.id]
    assert ids("lef") == [marc.id, helene.id] or ids("lef") == [helene.id, marc.id]
    assert ids("vegepolys") == [marc.id]
    assert ids("ministere interieur") == [helene.id]
    assert ids("interieur.gouv") == [helene.id]  # the e-mail address
    assert ids("helene vegepolys") == []
    assert ids("100%") == []
    assert len(ids("", limit=1)) == 1


def test_stats_count_what_they_say(db, staff):
    event = make_event(db, capacity=4)
    plenary, table1, table2 = (s.id for s in event.sessions)
    cluster = [
        make_registration(db, event, session_ids=[plenary, table1]),
        make_registration(db, event, session_ids=[plenary]),
    ]
    ministry = make_registration(
        db, event, organisation="DGE", organisation_type=OrganisationType.MINISTRY,
        session_ids=[table1],
    )  # fmt: skip
    region = make_registration(
        db, event, organisation="Région Bretagne", organisation_type=OrganisationType.REGION
    )
    waiting = [make_registration(db, event, session_ids=[table2]) for _ in range(3)]
    assert [w.status for w in waiting] == ["waitlisted"] * 3
    cancel_registration(db, region)  # the first waiting person is promoted
    assert waiting[0].status == "confirmed"
    # confirmed: 2 cluster + 1 ministry + waiting[0] (cluster); waitlisted: 2; cancelled: 1

    def scan(person, session_id=None):
        check_in(db, event, actor=staff, door="A", code=person.checkin_code, session_id=session_id)

    scan(cluster[0])
    scan(cluster[0], plenary)
    scan(cluster[0], table1)
    scan(ministry)
    scan(ministry, table1)
    scan(waiting[1])  # waitlisted: refused, not counted
    scan(cluster[1], plenary)  # at the plenary, not through the entrance

    figures = services.stats(db, event)
    assert figures["registered"] == 7
    assert figures["confirmed"] == 4
    assert figures["waitlisted"] == 2
    assert figures["cancelled"] == 1
    assert figures["checked_in"] == 2
    assert figures["by_type"]["cluster"] == {"confirmed": 3, "checked_in": 1}
    assert figures["by_type"]["ministry"] == {"confirmed": 1, "checked_in": 1}
    assert figures["by_type"]["region"] == {"confirmed": 0, "checked_in": 0}
    assert figures["by_type"]["agency"] == {"confirmed": 0, "checked_in": 0}
    by_session = {s["id"]: (s["registered"], s["checked_in"]) for s in figures["by_session"]}
    # registered = not cancelled; the waitlisted count as registered for their session
    assert by_session == {plenary: (2, 2), table1: (2, 2), table2: (3, 0)}

    counters = services.counters(db, event)
    assert (counters["present"], counters["expected"]) == (2, 4)
    expected = {s["id"]: (s["present"], s["expected"]) for s in counters["sessions"]}
    assert expected == {plenary: (2, 2), table1: (2, 2), table2: (0, 1)}


def test_a_check_in_undone_between_two_statements_is_tried_again(db, event, staff, monkeypatch):
    """The insert finds the person checked in, the check-in is undone before it is
    read: the service tries again (for the API, the door and walk-ins alike), and a
    check-in that keeps meeting undos ends in the error, nothing half done."""
    from tracker import db as database

    person = make_registration(db, event)
    real = database.insert_or_ignore
    refused = {"left": 1}

    def undone_meanwhile(session, table, values):
        if table is CheckIn.__table__ and refused["left"]:
            refused["left"] -= 1
            return None  # as if another request's row were there, then undone
        return real(session, table, values)

    monkeypatch.setattr(services, "insert_or_ignore", undone_meanwhile)
    outcome = check_in(db, event, actor=staff, door="A", code=person.checkin_code)
    assert (outcome.result, outcome.answer.status) == ("ok", 201)
    assert count(db, CheckIn, CheckIn.registration_id == person.id) == 1
    assert count(db, ScanLog, ScanLog.registration_id == person.id) == 1

    other = make_registration(db, event)
    refused["left"] = services.RETRIES
    with pytest.raises(IntegrityError):
        check_in(db, event, actor=staff, door="A", code=other.checkin_code)
    assert count(db, ScanLog, ScanLog.registration_id == other.id) == 0


def test_a_refused_scan_in_a_session_is_logged_with_its_session(db, event, staff):
    table = event.sessions[1]
    check_in(db, event, actor=staff, door="Room", code="C" * 26, session_id=table.id)
    undo_check_in(db, event, actor=staff, door="Room", code="D" * 26, session_id=table.id)
    logged = db.execute(
        select(ScanLog.result, ScanLog.session_id, ScanLog.session_title)
        .where(ScanLog.event_id == event.id)
        .order_by(ScanLog.id)
    ).all()
    assert logged == [("unknown", table.id, table.title), ("unknown", table.id, table.title)]
