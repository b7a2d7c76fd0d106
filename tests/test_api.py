"""The JSON API v1 over HTTP: tokens, sessions with CSRF, roles, and every answer."""

from __future__ import annotations

import flask
import pytest
from flask_wtf.csrf import generate_csrf
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from tests.conftest import bearer, checkins_url, login, make_event, make_registration, row_count
from tracker.auth.services import create_token, revoke_token
from tracker.checkin import services
from tracker.models import CheckIn, OrganisationType, Role, ScanLog
from tracker.registration.services import cancel_registration


@pytest.fixture
def door(db, event, account):
    user = account(Role.DOOR, [event], email="door@example.org")
    return user, bearer(db, user)


def csrf_header(app, client):
    """The X-CSRFToken a page of this session would carry."""
    with app.test_request_context():
        token = generate_csrf()
        raw = flask.session[app.config["WTF_CSRF_FIELD_NAME"]]
    with client.session_transaction() as s:
        s[app.config["WTF_CSRF_FIELD_NAME"]] = raw
    return {"X-CSRFToken": token}


def assert_error(response, status, error=None):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert isinstance(body["message"], str) and body["message"]
    if error is not None:
        assert body["error"] == error
    return body


# --- check-in --------------------------------------------------------------------------


def test_check_in_then_already_checked_in(client, db, event, door):
    user, headers = door
    person = make_registration(db, event, first_name="Hélène", organisation="Pôle Végépolys Valley")
    response = client.post(
        checkins_url(event), json={"code": person.checkin_code, "door": "Hall"}, headers=headers
    )
    assert response.status_code == 201
    body = response.get_json()
    assert body["result"] == "ok"
    shown = body["registration"]
    assert (shown["id"], shown["first_name"], shown["organisation"]) == (
        person.id,
        "Hélène",
        "Pôle Végépolys Valley",
    )
    assert shown["organisation_type"] == "cluster"
    assert shown["status"] == "confirmed"
    assert shown["checked_in_at"]

    again = client.post(
        checkins_url(event),
        json={"code": person.checkin_code.lower(), "door": "Side door"},
        headers=headers,
    )
    assert again.status_code == 409
    body = again.get_json()
    assert body["result"] == "already_checked_in"
    assert body["checked_in_at"] == shown["checked_in_at"]
    assert body["door"] == "Hall"
    assert body["by"] == "door@example.org"
    assert row_count(db, CheckIn, CheckIn.registration_id == person.id) == 1
    scans = db.execute(
        select(ScanLog.result, ScanLog.user_id, ScanLog.door)
        .where(ScanLog.registration_id == person.id)
        .order_by(ScanLog.id)
    ).all()
    assert scans == [("ok", user.id, "Hall"), ("already_checked_in", user.id, "Side door")]


def test_check_in_by_registration_and_per_session(client, db, event, door):
    _user, headers = door
    person = make_registration(db, event)
    table = event.sessions[1].id
    response = client.post(
        checkins_url(event),
        json={"registration": person.id, "session": table, "door": "Room 2"},
        headers=headers,
    )
    assert response.status_code == 201
    assert response.get_json()["registration"]["checked_in_at"] is None
    assert str(table) in response.get_json()["registration"]["session_checkins"]
    entrance = client.post(
        checkins_url(event), json={"registration": person.id, "session": None}, headers=headers
    )
    assert entrance.status_code == 201


def test_unknown_and_unconfirmed_codes(client, db, door):
    _user, headers = door
    event = make_event(db, capacity=1)
    door[0].events.append(event)
    first = make_registration(db, event)
    waiting = make_registration(db, event)
    later = make_registration(db, event)
    cancel_registration(db, first)
    assert (first.status, waiting.status, later.status) == ("cancelled", "confirmed", "waitlisted")
    elsewhere = make_registration(db, make_event(db))

    unknown = client.post(checkins_url(event), json={"code": "Z" * 26}, headers=headers)
    assert unknown.status_code == 404
    assert unknown.get_json()["result"] == "unknown"
    other = client.post(checkins_url(event), json={"code": elsewhere.checkin_code}, headers=headers)
    assert other.status_code == 404
    assert other.get_json() == {"result": "unknown", "reason": "other_event"}
    for person, status in ((later, "waitlisted"), (first, "cancelled")):
        response = client.post(
            checkins_url(event), json={"code": person.checkin_code}, headers=headers
        )
        assert response.status_code == 422
        assert response.get_json()["result"] == "not_confirmed"
        assert response.get_json()["status"] == status
    assert row_count(db, CheckIn, CheckIn.event_id == event.id) == 0
    # Refused scans are answered with 4xx but are kept in the scan log all the same.
    assert row_count(db, ScanLog, ScanLog.event_id == event.id) == 4


def test_the_same_nonce_gives_the_same_answer_and_counts_once(client, db, event, door):
    _user, headers = door
    person = make_registration(db, event)
    payload = {"code": person.checkin_code, "door": "Hall", "nonce": "phone-1:42"}
    first = client.post(checkins_url(event), json=payload, headers=headers)
    retry = client.post(checkins_url(event), json=payload, headers=headers)
    assert first.status_code == retry.status_code == 201
    assert retry.get_json() == first.get_json()
    assert row_count(db, CheckIn, CheckIn.registration_id == person.id) == 1
    assert row_count(db, ScanLog, ScanLog.event_id == event.id) == 1
    stats = client.get(f"/api/v1/events/{event.slug}/stats", headers=headers).get_json()
    assert stats["checked_in"] == 1
    # A refused answer is replayed too, even once the code has become valid elsewhere.
    lost = {"code": "Q" * 26, "nonce": "phone-1:43"}
    assert client.post(checkins_url(event), json=lost, headers=headers).status_code == 404
    replay = client.post(checkins_url(event), json=lost, headers=headers)
    assert replay.status_code == 404
    assert replay.get_json()["result"] == "unknown"
    assert row_count(db, ScanLog, ScanLog.event_id == event.id) == 2


def test_registered_only_refuses_a_session_someone_did_not_register_for(client, db, event, door):
    _user, headers = door
    plenary, table = event.sessions[0], event.sessions[1]
    person = make_registration(db, event, session_ids=[table.id])
    ask = {"code": person.checkin_code, "session": plenary.id, "door": "Plenary"}

    refused = client.post(
        checkins_url(event), json={**ask, "registered_only": True, "nonce": "n-1"}, headers=headers
    )
    assert refused.status_code == 409
    body = refused.get_json()
    assert body["result"] == "not_registered"
    assert body["session"] == {"id": plenary.id, "title": plenary.title}
    assert body["registration"]["id"] == person.id
    assert [s["id"] for s in body["registration"]["sessions"]] == [table.id]
    assert row_count(db, CheckIn, CheckIn.registration_id == person.id) == 0
    # Kept in the scan log although answered with a 409, with its session and nonce.
    logged = db.execute(
        select(ScanLog.result, ScanLog.status_code, ScanLog.session_id, ScanLog.response).where(
            ScanLog.nonce == "n-1"
        )
    ).one()
    assert logged == ("not_registered", 409, plenary.id, body)

    # Let in anyway: the same check-in without registered_only and a new nonce; its
    # retry gives the same answer and counts once.
    anyway = {**ask, "nonce": "n-2"}
    first = client.post(checkins_url(event), json=anyway, headers=headers)
    retry = client.post(checkins_url(event), json=anyway, headers=headers)
    assert first.status_code == retry.status_code == 201
    assert retry.get_json() == first.get_json()
    assert row_count(db, CheckIn, CheckIn.registration_id == person.id) == 1
    assert row_count(db, ScanLog, ScanLog.registration_id == person.id) == 2
    again = client.post(checkins_url(event), json={**ask, "registered_only": True}, headers=headers)
    assert again.status_code == 409
    assert again.get_json()["result"] == "already_checked_in"


def test_a_client_that_does_not_ask_gets_the_answers_it_always_had(client, db, event, door):
    _user, headers = door
    for extra in ({}, {"registered_only": None}, {"registered_only": False}):
        person = make_registration(db, event, session_ids=[event.sessions[1].id])
        response = client.post(
            checkins_url(event),
            json={"code": person.checkin_code, "session": event.sessions[0].id, **extra},
            headers=headers,
        )
        assert response.status_code == 201, extra
        assert set(response.get_json()) == {"result", "registration"}


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ([], 400, None),
        ("ABC", 400, None),
        (None, 400, None),
        ({}, 422, "code"),
        ({"code": "ABC", "registration": 1}, 422, "code"),
        ({"code": 12}, 422, "code"),
        ({"code": ""}, 422, "code"),
        ({"code": "   "}, 422, "code"),
        ({"code": "A" * 65}, 422, "code"),
        ({"code": "AB\x00CD"}, 422, "code"),
        ({"registration": "12"}, 422, "registration"),
        ({"registration": True}, 422, "registration"),
        ({"registration": 0}, 422, "registration"),
        ({"registration": 2**40}, 422, "registration"),
        ({"registration": 1.5}, 422, "registration"),
        ({"code": "ABC", "session": "1"}, 422, "session"),
        ({"code": "ABC", "session": -1}, 422, "session"),
        ({"code": "ABC", "session": 2**63}, 422, "session"),
        ({"code": "ABC", "door": ["Hall"]}, 422, "door"),
        ({"code": "ABC", "door": "D" * 101}, 422, "door"),
        ({"code": "ABC", "nonce": "n" * 65}, 422, "nonce"),
        ({"code": "ABC", "nonce": 7}, 422, "nonce"),
        ({"code": "ABC", "colour": "green"}, 422, "colour"),
        ({"code": "ABC", "registered_only": "yes"}, 422, "registered_only"),
        ({"code": "ABC", "registered_only": 1}, 422, "registered_only"),
        ({"code": "ABC", "registered_only": "true"}, 422, "registered_only"),
    ],
)
def test_invalid_bodies_are_refused_with_a_message(client, db, event, door, body, status, field):
    _user, headers = door
    if body is None:
        response = client.post(
            checkins_url(event), data=b"{not json", headers=headers, content_type="application/json"
        )
    else:
        response = client.post(checkins_url(event), json=body, headers=headers)
    error = assert_error(response, status)
    if field is not None:
        assert error["field"] == field
    assert row_count(db, CheckIn, CheckIn.event_id == event.id) == 0


def test_bodies_that_would_break_a_parser_or_a_database_are_refused(client, event, door):
    _user, headers = door
    deep = b"[" * 5000 + b"]" * 5000
    assert_error(
        client.post(
            checkins_url(event), data=deep, headers=headers, content_type="application/json"
        ),
        400,
        "invalid_body",
    )
    surrogate = b'{"code": "\\ud800ABC"}'
    assert_error(
        client.post(
            checkins_url(event), data=surrogate, headers=headers, content_type="application/json"
        ),
        422,
    )
    huge = b'{"code": "' + b"A" * 20000 + b'"}'
    assert_error(
        client.post(
            checkins_url(event), data=huge, headers=headers, content_type="application/json"
        ),
        413,
    )


def test_a_session_of_another_event_is_refused(client, db, event, door):
    _user, headers = door
    person = make_registration(db, event)
    foreign = make_event(db).sessions[0].id
    response = client.post(
        checkins_url(event), json={"code": person.checkin_code, "session": foreign}, headers=headers
    )
    assert assert_error(response, 422)["field"] == "session"


# --- undo --------------------------------------------------------------------------------


def test_undo(client, db, event, door):
    user, headers = door
    person = make_registration(db, event)
    table = event.sessions[0].id
    client.post(checkins_url(event), json={"code": person.checkin_code}, headers=headers)
    client.post(
        checkins_url(event), json={"code": person.checkin_code, "session": table}, headers=headers
    )
    url = f"{checkins_url(event)}/{person.checkin_code.lower()}"

    response = client.delete(f"{url}?session={table}", headers=headers)
    assert response.status_code == 200
    assert response.get_json()["result"] == "undone"
    assert response.get_json()["registration"]["checked_in_at"] is not None  # entrance kept
    assert response.get_json()["registration"]["session_checkins"] == {}

    response = client.delete(url, headers=headers)
    assert response.status_code == 200
    assert row_count(db, CheckIn, CheckIn.registration_id == person.id) == 0
    assert (
        row_count(
            db,
            ScanLog,
            ScanLog.registration_id == person.id,
            ScanLog.result == "undone",
            ScanLog.user_id == user.id,
        )
        == 2
    )

    again = client.delete(url, headers=headers)
    assert again.status_code == 404
    assert again.get_json()["result"] == "not_checked_in"
    unknown = client.delete(f"{checkins_url(event)}/NOSUCHCODE", headers=headers)
    assert unknown.status_code == 404
    assert unknown.get_json()["result"] == "unknown"
    assert_error(client.delete(f"{url}?session=abc", headers=headers), 422, "invalid")
    assert_error(client.delete(f"{url}?session=99999999999999", headers=headers), 422)
    assert_error(client.delete(f"{checkins_url(event)}/AB%00C", headers=headers), 422)
    # Checked in again after the undo.
    response = client.post(checkins_url(event), json={"code": person.checkin_code}, headers=headers)
    assert response.status_code == 201


# --- search and stats ------------------------------------------------------------------------


def test_search(client, db, event, door):
    _user, headers = door
    helene = make_registration(
        db,
        event,
        first_name="Hélène",
        last_name="Lefèvre",
        email="helene.lefevre@interieur.gouv.fr",
        organisation="Ministère de l'Intérieur",
        organisation_type=OrganisationType.MINISTRY,
    )
    for n in range(5):
        make_registration(db, event, first_name="Marc", last_name=f"Dupont {n}")
    make_registration(db, make_event(db), first_name="Hélène", last_name="Lefèvre")
    url = f"/api/v1/events/{event.slug}/registrations"

    found = client.get(url, query_string={"q": "helene LEFEVRE"}, headers=headers)
    assert found.status_code == 200
    results = found.get_json()["registrations"]
    assert [r["id"] for r in results] == [helene.id]
    first = results[0]
    assert first["first_name"] == "Hélène"
    assert first["last_name"] == "Lefèvre"
    assert first["organisation"] == "Ministère de l'Intérieur"
    assert first["organisation_type"] == "ministry"
    assert first["status"] == "confirmed"
    assert first["checked_in_at"] is None
    assert "checkin_code" not in first and "email" not in first

    by_org = client.get(url, query_string={"q": "ministere"}, headers=headers).get_json()
    assert [r["id"] for r in by_org["registrations"]] == [helene.id]
    by_mail = client.get(url, query_string={"q": "interieur.gouv"}, headers=headers).get_json()
    assert [r["id"] for r in by_mail["registrations"]] == [helene.id]

    client.post(checkins_url(event), json={"registration": helene.id}, headers=headers)
    after = client.get(url, query_string={"q": "hélène"}, headers=headers).get_json()
    assert after["registrations"][0]["checked_in_at"] is not None

    limited = client.get(url, query_string={"q": "marc", "limit": "2"}, headers=headers)
    assert len(limited.get_json()["registrations"]) == 2
    everyone = client.get(url, headers=headers).get_json()["registrations"]
    assert len(everyone) == 6
    for bad in ("0", "101", "x", "-1", "1.5"):
        response = client.get(url, query_string={"limit": bad}, headers=headers)
        assert assert_error(response, 422)["field"] == "limit"
    assert_error(client.get(url, query_string={"q": "x" * 201}, headers=headers), 422)
    odd = client.get(url, query_string={"q": "hel\x00ene%_"}, headers=headers)
    assert odd.status_code == 200
    assert odd.get_json()["registrations"] == []


def test_stats(client, db, event, door):
    _user, headers = door
    plenary = event.sessions[0].id
    people = [make_registration(db, event, session_ids=[plenary]) for _ in range(3)]
    make_registration(db, event, organisation="DGE", organisation_type=OrganisationType.MINISTRY)
    cancel_registration(db, people[2])
    client.post(checkins_url(event), json={"code": people[0].checkin_code}, headers=headers)
    client.post(
        checkins_url(event),
        json={"code": people[1].checkin_code, "session": plenary},
        headers=headers,
    )
    response = client.get(f"/api/v1/events/{event.slug}/stats", headers=headers)
    assert response.status_code == 200
    stats = response.get_json()
    assert {k: stats[k] for k in ("registered", "confirmed", "waitlisted", "cancelled")} == {
        "registered": 4,
        "confirmed": 3,
        "waitlisted": 0,
        "cancelled": 1,
    }
    assert stats["checked_in"] == 1
    assert stats["by_type"]["cluster"] == {"confirmed": 2, "checked_in": 1}
    assert stats["by_type"]["ministry"] == {"confirmed": 1, "checked_in": 0}
    assert stats["by_session"][0] == {
        "id": plenary,
        "title": event.sessions[0].title,
        "registered": 2,
        "checked_in": 1,
    }
    assert (stats["counters"]["present"], stats["counters"]["expected"]) == (1, 3)
    assert stats["counters"]["sessions"][0]["present"] == 1
    assert stats["counters"]["sessions"][0]["expected"] == 2


# --- authentication and access ----------------------------------------------------------------


def all_requests(event, code="ABCDEFGH"):
    base = f"/api/v1/events/{event.slug}"
    return [
        ("post", f"{base}/checkins", {"json": {"code": code}}),
        ("delete", f"{base}/checkins/{code}", {}),
        ("get", f"{base}/registrations?q=a", {}),
        ("get", f"{base}/stats", {}),
    ]


def test_no_or_a_bad_token_is_401(client, db, event, account):
    user = account(Role.ADMIN)
    token, _ = create_token(db, user, "Door B")
    revoked = bearer(db, user, "Old phone")
    revoke_token(db, user, "Old phone")
    inactive = account(Role.DOOR, [event])
    inactive_headers = bearer(db, inactive)
    inactive.active = False
    db.flush()
    for headers in (
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer trk_not-a-real-token"},
        {"Authorization": f"Basic {token}"},
        {"Authorization": "Bearer " + "x" * 5000},
        revoked,
        inactive_headers,
    ):
        for method, url, kwargs in all_requests(event):
            response = getattr(client, method)(url, headers=headers, **kwargs)
            assert_error(response, 401)
            assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_accounts_without_access_to_the_event_get_403(client, db, event, account):
    person = make_registration(db, event)
    other_event = make_event(db)
    for role in (Role.DOOR, Role.ORGANISER):
        outsider = account(role, [other_event])
        headers = bearer(db, outsider)
        for method, url, kwargs in all_requests(event, person.checkin_code):
            response = getattr(client, method)(url, headers=headers, **kwargs)
            assert_error(response, 403, "forbidden")
    assert row_count(db, CheckIn, CheckIn.registration_id == person.id) == 0
    # Their own event is fine; an admin may act on any event.
    outsider_ok = client.get(f"/api/v1/events/{other_event.slug}/stats", headers=headers)
    assert outsider_ok.status_code == 200
    admin = bearer(db, account(Role.ADMIN))
    response = client.post(checkins_url(event), json={"code": person.checkin_code}, headers=admin)
    assert response.status_code == 201


def test_a_token_used_on_an_event_is_noted_as_used(client, db, event, account):
    user = account(Role.DOOR, [event])
    token, record = create_token(db, user, "Door C")
    db.commit()
    assert record.last_used_at is None
    response = client.get(
        f"/api/v1/events/{event.slug}/stats", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200
    db.expire_all()
    assert record.last_used_at is not None


def test_organisers_may_use_the_door_api(client, db, event, account):
    headers = bearer(db, account(Role.ORGANISER, [event]))
    person = make_registration(db, event)
    response = client.post(checkins_url(event), json={"code": person.checkin_code}, headers=headers)
    assert response.status_code == 201


def test_an_unknown_event_is_404(client, db, door):
    _user, headers = door
    for slug in ("no-such-event", "NOT A SLUG", "x" * 300):
        response = client.get(f"/api/v1/events/{slug}/stats", headers=headers)
        assert_error(response, 404, "not_found")
    assert_error(client.get("/api/v1/nothing-here", headers=headers), 404)


def test_a_logged_in_session_works_with_its_csrf_token(
    app, client, db, event, monkeypatch, account
):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    user = account(Role.DOOR, [event])
    person = make_registration(db, event)
    login(client, user)
    # Reading needs no CSRF token.
    assert client.get(f"/api/v1/events/{event.slug}/stats").status_code == 200
    # Changing does.
    refused = client.post(checkins_url(event), json={"code": person.checkin_code})
    assert_error(refused, 403, "csrf_failed")
    forged = client.post(
        checkins_url(event), json={"code": person.checkin_code}, headers={"X-CSRFToken": "forged"}
    )
    assert_error(forged, 403, "csrf_failed")
    assert row_count(db, CheckIn, CheckIn.registration_id == person.id) == 0

    headers = csrf_header(app, client)
    response = client.post(checkins_url(event), json={"code": person.checkin_code}, headers=headers)
    assert response.status_code == 201
    undo_url = f"{checkins_url(event)}/{person.checkin_code}"
    assert_error(client.delete(undo_url), 403, "csrf_failed")
    assert client.delete(undo_url, headers=headers).status_code == 200


def test_a_bearer_token_needs_no_csrf_token(app, client, db, event, door, monkeypatch):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    _user, headers = door
    person = make_registration(db, event)
    response = client.post(checkins_url(event), json={"code": person.checkin_code}, headers=headers)
    assert response.status_code == 201


def test_a_bad_token_is_refused_even_beside_a_logged_in_session(client, db, event, account):
    user = account(Role.DOOR, [event])
    login(client, user)
    response = client.get(
        f"/api/v1/events/{event.slug}/stats", headers={"Authorization": "Bearer nope"}
    )
    assert_error(response, 401, "invalid_token")


def test_the_token_decides_over_a_session_cookie(client, db, event, account):
    insider = account(Role.DOOR, [event])
    outsider = account(Role.DOOR, [make_event(db)])
    login(client, insider)
    response = client.get(f"/api/v1/events/{event.slug}/stats", headers=bearer(db, outsider))
    assert_error(response, 403, "forbidden")


def test_errors_are_json_in_the_client_language(client, db, event, door):
    _user, headers = door
    assert_error(client.put(checkins_url(event), json={}, headers=headers), 405)
    en = assert_error(client.post(checkins_url(event), json={}, headers=headers), 422)
    fr = assert_error(
        client.post(checkins_url(event), json={}, headers={**headers, "Accept-Language": "fr"}),
        422,
    )
    assert en["error"] == fr["error"] == "invalid"
    assert "code" in en["message"]
    assert fr["message"] != en["message"]  # translated
    anonymous = client.get(
        f"/api/v1/events/{event.slug}/stats", headers={"Accept-Language": "fr"}
    ).get_json()
    assert anonymous["error"] == "unauthorized"
    assert "Authorization" in anonymous["message"]


def test_a_check_in_that_meets_a_concurrent_undo_is_tried_again(
    client, db, event, door, monkeypatch
):
    """The retry is the service's (every caller has it): an attempt that meets an undo
    between two of its statements is made again."""
    _user, headers = door
    person = make_registration(db, event)
    real = services._check_in
    calls = []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise IntegrityError("INSERT", {}, Exception("undone meanwhile"))
        return real(*args, **kwargs)

    monkeypatch.setattr(services, "_check_in", flaky)
    response = client.post(checkins_url(event), json={"code": person.checkin_code}, headers=headers)
    assert response.status_code == 201
    assert len(calls) == 2


def test_the_openapi_document_lists_the_endpoints(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    assert document["openapi"].startswith("3.")
    assert set(document["paths"]) == {
        "/events/{slug}/checkins",
        "/events/{slug}/checkins/{code}",
        "/events/{slug}/door-snapshot",
        "/events/{slug}/registrations",
        "/events/{slug}/stats",
    }
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


# --- the error contract at the edges: 405, 414, 500 ---------------------------------------


def test_a_method_not_allowed_says_which_are_with_a_stable_code(client, db, event, door):
    _user, headers = door
    for method, url, allowed in (
        ("PUT", checkins_url(event), {"POST", "OPTIONS"}),
        ("DELETE", f"/api/v1/events/{event.slug}/stats", {"GET", "HEAD", "OPTIONS"}),
        ("POST", "/api/v1/openapi.json", {"GET", "HEAD", "OPTIONS"}),
    ):
        for language in ("en", "fr"):
            response = client.open(
                url, method=method, headers={**headers, "Accept-Language": language}
            )
            body = assert_error(response, 405, "method_not_allowed")
            assert {m.strip() for m in response.headers["Allow"].split(",")} == allowed
            assert "Method" not in body["error"]
            assert (
                body["message"]
                == {
                    "en": "This method is not allowed here.",
                    "fr": "Cette méthode n’est pas autorisée ici.",
                }[language]
            )


def test_an_unexpected_error_is_json_with_a_stable_code_and_no_traceback(
    client, db, event, door, monkeypatch, caplog
):
    _user, headers = door

    def broken(*_args, **_kwargs):
        raise RuntimeError("secret detail of the failure")

    monkeypatch.setattr(services, "stats", broken)
    for language in ("en", "fr"):
        response = client.get(
            f"/api/v1/events/{event.slug}/stats",
            headers={**headers, "Accept-Language": language},
        )
        body = assert_error(response, 500, "internal_error")
        text = response.get_data(as_text=True)
        assert "Traceback" not in text and "secret detail" not in text
        assert set(body) == {"error", "message"}
    assert "secret detail of the failure" in caplog.text  # logged for the operator


def test_a_uri_too_long_answers_414_in_json(client, db, event, door):
    _user, headers = door
    search = f"/api/v1/events/{event.slug}/registrations"
    assert client.get(search, query_string={"q": "a" * 150}, headers=headers).status_code == 200
    for url in (
        f"{search}?q={'a' * 4000}",  # a route of the API
        f"/api/v1/events/{'x' * 4000}/stats",
        f"/api/v1/{'x' * 4000}",  # no route: the app's handler answers
    ):
        assert_error(client.get(url, headers=headers), 414, "uri_too_long")
    assert_error(
        client.delete(f"{checkins_url(event)}/{'A' * 4000}", headers=headers), 414, "uri_too_long"
    )


def test_a_uri_too_long_is_a_page_outside_the_api(client):
    response = client.get(f"/events/{'x' * 4001}")
    assert response.status_code == 414
    assert response.mimetype == "text/html" and "Address too long" in response.text


def test_the_openapi_document_declares_414_for_every_operation():
    from tracker.api.openapi import openapi_document

    document = openapi_document()
    operations = [op for path in document["paths"].values() for op in path.values()]
    assert len(operations) == 5
    for operation in operations:
        response = operation["responses"]["414"]
        schema = response["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/Error"}
    codes = document["components"]["schemas"]["Error"]["properties"]["error"]["description"]
    for code in ("method_not_allowed", "uri_too_long", "internal_error", "unknown_host"):
        assert code in codes
