"""Every input of the door screen and the JSON API against NUL and other control
characters: a clear 4xx (or the input ignored), never a server error. PostgreSQL
refuses NUL in text, so a value that reaches the database unchecked is a 500 there."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from sqlalchemy import select

from tests.conftest import (
    JSON,
    PASSWORD,
    bearer,
    login,
    make_event,
    make_registration,
    walk_in_data,
)
from tracker.auth.services import create_user
from tracker.checkin.services import check_in
from tracker.events.services import SessionSpec
from tracker.models import Role, ScanLog

BAD = ["\x00", "Hall\x00A", "\x1b[2J", "\x7f", "\x85", "\u2028"]
CONTROL_MESSAGE = "Control characters and line breaks are not allowed here."


@pytest.fixture
def scene(app, client, db):
    """An event with a session, a person checked in, a logged-in door account and an API
    token of it."""
    event = make_event(db, sessions=[SessionSpec("Plénière")])
    person = make_registration(db, event)
    with app.app_context():
        door = create_user(db, "door.fuzz@example.org", PASSWORD, Role.DOOR, [event])
    check_in(db, event, actor=door, door="Hall", registration_id=person.id)
    db.commit()
    login(client, door)
    return event, person, bearer(db, door)


def _no_server_error(response) -> None:
    assert response.status_code < 500, response.get_data(as_text=True)[:500]


# --- the door screen's forms -------------------------------------------------------------

WALK_IN_FIELDS = [
    "first_name",
    "last_name",
    "organisation",
    "organisation_type",
    "email",
    "override",
    "session",
    "door",
    "nonce",
]


@pytest.mark.parametrize("value", BAD, ids=repr)
@pytest.mark.parametrize("field", WALK_IN_FIELDS)
@pytest.mark.parametrize("accept", [JSON, {}], ids=["json", "html"])
def test_walk_in_fields(client, scene, field, value, accept):
    event, _person, _token = scene
    data = walk_in_data(**{field: value})
    response = client.post(f"/events/{event.slug}/door/walk-in", data=data, headers=accept)
    _no_server_error(response)


@pytest.mark.parametrize("value", BAD, ids=repr)
@pytest.mark.parametrize("field", ["registration", "session", "door"])
def test_undo_fields(client, db, scene, field, value):
    event, person, _token = scene
    data = {"registration": str(person.id), "session": "", "door": "Hall", field: value}
    response = client.post(f"/events/{event.slug}/door/undo", data=data)
    _no_server_error(response)
    if field == "session" and not value.strip():
        # Blank (U+0085 and U+2028 are white space): no session, the entrance's undo.
        assert response.get_json()["result"] == "undone"
        return
    assert response.status_code == 422
    assert response.get_json()["result"] in ("invalid", "invalid_choice")


@pytest.mark.parametrize("value", ["\x00", "Hall\x00A", "\x1b"], ids=repr)
def test_undo_checks_the_door_name_as_every_other_door_input(client, db, scene, value):
    event, person, _token = scene
    response = client.post(
        f"/events/{event.slug}/door/undo",
        data={"registration": str(person.id), "door": value},
    )
    assert response.status_code == 422
    body = response.get_json()
    assert body["errors"] == {"door": [CONTROL_MESSAGE]}
    assert body["message"] == CONTROL_MESSAGE
    db.expire_all()
    assert db.scalars(select(ScanLog.door).where(ScanLog.result == "undone")).all() == []
    long = client.post(
        f"/events/{event.slug}/door/undo", data={"registration": str(person.id), "door": "x" * 101}
    )
    assert long.status_code == 422 and list(long.get_json()["errors"]) == ["door"]


@pytest.mark.parametrize("value", ["\x00", "a4-8\x00"], ids=repr)
def test_door_badge_layout(client, scene, value):
    event, person, _token = scene
    response = client.post(
        f"/events/{event.slug}/door/badge/{person.id}.pdf", data={"layout": value}
    )
    _no_server_error(response)


# --- the JSON API --------------------------------------------------------------------------


@pytest.mark.parametrize("value", BAD, ids=repr)
@pytest.mark.parametrize("field", ["code", "registration", "session", "door", "nonce", "extra"])
def test_api_check_in_body(client, scene, field, value):
    event, person, token = scene
    body = {"registration": person.id, "door": "Hall", field: value}
    if field == "code":
        del body["registration"]
    response = client.post(f"/api/v1/events/{event.slug}/checkins", json=body, headers=token)
    _no_server_error(response)
    assert response.status_code == 422


@pytest.mark.parametrize("value", BAD, ids=repr)
@pytest.mark.parametrize("where", ["code", "door", "session"])
def test_api_undo_path_and_query(client, scene, where, value):
    event, person, token = scene
    code = value if where == "code" else person.checkin_code
    query = {} if where == "code" else {where: value}
    response = client.delete(
        f"/api/v1/events/{event.slug}/checkins/{quote(code, safe='')}",
        query_string=query,
        headers=token,
    )
    _no_server_error(response)
    assert response.status_code == 422


@pytest.mark.parametrize("value", BAD, ids=repr)
@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/events/{slug}/registrations?q={v}",
        "/api/v1/events/{slug}/registrations?q=a&limit={v}",
        "/api/v1/events/{v}/stats",
        "/api/v1/events/{v}/checkins",
        "/events/{v}/door",
    ],
)
def test_api_and_door_urls(client, scene, url, value):
    event, _person, token = scene
    target = url.format(slug=event.slug, v=quote(value, safe=""))
    if "checkins" in target:
        response = client.post(target, json={"code": "X", "door": "Hall"}, headers=token)
    else:
        response = client.get(target, headers=token)
    _no_server_error(response)


def test_a_nul_in_another_events_undo_is_refused_before_any_lookup(client, db, scene):
    event, _person, _token = scene
    stranger = make_registration(db, make_event(db))
    db.commit()
    response = client.post(
        f"/events/{event.slug}/door/undo", data={"registration": stranger.id, "door": "\x00"}
    )
    assert response.status_code == 422


@pytest.mark.parametrize("field", ["door", "nonce"])
def test_a_walk_in_door_or_nonce_that_strips_to_nothing_is_still_checked(client, db, scene, field):
    event, _person, _token = scene
    response = client.post(
        f"/events/{event.slug}/door/walk-in", data=walk_in_data(**{field: "\x85"}), headers=JSON
    )
    assert response.status_code == 422
    assert response.get_json()["errors"] == {field: [CONTROL_MESSAGE]}
