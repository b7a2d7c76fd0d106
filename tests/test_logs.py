"""The application's logs: one JSON object per line, a request id carried through, and no
personal data beyond an account id and a registration id."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator

import pytest

from tests.conftest import bearer, form_data, login, make_event, make_registration
from tracker import create_app, logs
from tracker.auth.services import create_user
from tracker.models import Registration, Role

PASSWORD = "a long enough password"  # noqa: S105 - tests only


class Captured:
    def __init__(self, buffer: io.StringIO) -> None:
        self.buffer = buffer

    @property
    def text(self) -> str:
        return self.buffer.getvalue()

    @property
    def lines(self) -> list[dict]:
        return [json.loads(line) for line in self.text.splitlines() if line.strip()]

    def requests(self) -> list[dict]:
        return [line for line in self.lines if line["logger"] == "tracker.request"]


@pytest.fixture
def captured() -> Iterator[Captured]:
    """Every record logged during the test, as the production handler writes it."""
    buffer = io.StringIO()
    handler = logs.make_handler("json", buffer)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield Captured(buffer)
    finally:
        root.removeHandler(handler)


def test_each_request_is_one_json_line_with_its_fields(client, db, captured):
    event = make_event(db)
    response = client.get(f"/events/{event.slug}")
    assert response.status_code == 200
    [line] = [r for r in captured.requests() if r["endpoint"] == "events.show"]
    assert line["level"] == "INFO"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4}", line["time"])
    assert line["method"] == "GET"
    assert line["path"] == f"/events/{event.slug}"  # a slug is public: shown
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert line["request_id"] == response.headers["X-Request-ID"]
    assert line["account_id"] is None
    # One object per line, whatever a message holds.
    assert all(text.startswith("{") for text in captured.text.splitlines())


def account(app, db, email, role, events=()):
    with app.app_context():  # the test client's requests must not share it
        return create_user(db, email, PASSWORD, role, list(events))


def test_the_account_id_is_logged_once_logged_in(client, db, app, captured):
    user = account(app, db, "orga.logs@example.org", Role.ORGANISER)
    login(client, user)
    assert client.get("/manage").status_code == 200
    [line] = [r for r in captured.requests() if r["path"] == "/manage"]
    assert line["account_id"] == user.id


@pytest.mark.parametrize(
    "sent", ["proxy-1f3a9c", "6f1e1f3c-7d7a-4b4e-9a51-0a6f3c2b9d10", "a" * 128, "r.1:2_3-4"]
)
def test_a_sane_request_id_is_kept_and_sent_back(client, captured, sent):
    response = client.get("/healthz", headers={"X-Request-ID": sent})
    assert response.headers["X-Request-ID"] == sent
    assert captured.requests()[-1]["request_id"] == sent


@pytest.mark.parametrize(
    "sent",
    ["a" * 129, "x y", "id\tX-Injected: 1", '{"level": "ERROR"}', "-starts-with-dash", "é", ""],
)
def test_any_other_request_id_is_replaced(client, captured, sent):
    response = client.get("/healthz", headers={"X-Request-ID": sent})
    given = response.headers["X-Request-ID"]
    assert given != sent and re.fullmatch(r"[0-9a-f]{32}", given)
    assert captured.requests()[-1]["request_id"] == given
    assert "X-Injected" not in captured.text


def test_without_one_each_request_gets_its_own_id(client):
    first = client.get("/healthz").headers["X-Request-ID"]
    second = client.get("/healthz").headers["X-Request-ID"]
    assert first != second


def test_every_line_of_a_request_carries_its_id(client, db, captured, monkeypatch, app):
    """A line logged by the app while a request is handled (here: an e-mail that could not
    be sent) says which request it belongs to."""
    event = make_event(db)
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", 9)  # nothing listens: refused at once
    response = client.post(
        f"/events/{event.slug}/register", data=form_data(event), headers={"X-Request-ID": "r-42"}
    )
    assert response.status_code in (200, 303)
    mail_lines = [line for line in captured.lines if line["logger"] == "tracker.mail"]
    assert mail_lines and all(line["request_id"] == "r-42" for line in mail_lines)
    assert mail_lines[0]["level"] in ("WARNING", "ERROR")


def test_nothing_personal_is_logged(client, db, app, captured, monkeypatch, outbox):
    """A person registers (the confirmation e-mail cannot be sent, then is written to the
    outbox), opens their private page, is looked up and checked in at the door, an
    organiser fails a login: the logs name none of their names, addresses, codes, links,
    tokens or passwords."""
    event = make_event(db)
    door = account(app, db, "door.person@example.org", Role.DOOR, [event])
    headers = bearer(db, door)
    api_token = headers["Authorization"].removeprefix("Bearer ")
    first, last, email = "Zephyrine", "Quillardbrevent", "zephyrine.quillardbrevent@example.org"

    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", 9)
    data = form_data(event, first_name=first, last_name=last, email=email)
    assert client.post(f"/events/{event.slug}/register", data=data).status_code in (200, 303)
    monkeypatch.setitem(app.config, "MAIL_SERVER", None)
    other = make_registration(db, event, first_name="Anatolie", email="anatolie.x@example.org")
    person = db.query(Registration).filter_by(last_name=last).one()

    assert client.get(f"/r/{person.manage_token}").status_code == 200
    assert client.get(f"/r/{person.manage_token}/qr.png").status_code == 200
    assert client.get(f"/r/{person.manage_token}x").status_code == 404
    assert client.get(f"/no-such-page/{email}").status_code == 404
    found = client.get(f"/api/v1/events/{event.slug}/registrations?q={last}", headers=headers)
    assert found.status_code == 200
    checked = client.post(
        f"/api/v1/events/{event.slug}/checkins",
        json={"code": person.checkin_code, "door": "Hall"},
        headers=headers,
    )
    assert checked.status_code == 201
    client.post(f"/api/v1/events/{event.slug}/checkins", json={"code": "Z" * 26}, headers=headers)
    assert client.post(
        "/login", data={"email": "door.person@example.org", "password": PASSWORD + "x"}
    ).status_code in (200, 401, 422)

    text = captured.text.lower()
    assert captured.requests(), "the requests were logged"
    secrets = [
        first,
        last,
        email,
        email.split("@")[0],
        "anatolie.x@example.org",
        person.checkin_code,
        person.manage_token,
        other.checkin_code,
        other.manage_token,
        api_token,
        PASSWORD,
        "door.person@example.org",
        "Z" * 26,
    ]
    for secret in secrets:
        assert secret.lower() not in text, secret
    # What may be said: the route, the registration's and the account's ids.
    paths = {line["path"] for line in captured.requests()}
    assert "/r/<token>" in paths and "/r/<token>/qr.png" in paths
    assert any(line["account_id"] == door.id for line in captured.requests())


def test_the_format_is_json_in_production_and_text_elsewhere():
    assert logs.check_format(None, production=True) == "json"
    assert logs.check_format("", production=False) == "text"
    assert logs.check_format("json", production=False) == "json"
    with pytest.raises(RuntimeError, match="TRACKER_LOG_FORMAT"):
        logs.check_format("xml", production=True)


def test_a_bad_log_setting_refuses_to_start(database_url):
    with pytest.raises(RuntimeError, match="TRACKER_LOG_LEVEL"):
        create_app({"ENV_NAME": "testing", "DATABASE_URL": database_url, "LOG_LEVEL": "LOUD"})
    with pytest.raises(RuntimeError, match="TRACKER_LOG_FORMAT"):
        create_app({"ENV_NAME": "testing", "DATABASE_URL": database_url, "LOG_FORMAT": "xml"})


def test_a_database_error_logged_holds_no_parameters(app):
    """An SQL error's text (logged with its traceback) names the statement, never the
    values sent with it."""
    from sqlalchemy import text

    engine = app.extensions["db"].engine
    with pytest.raises(Exception) as raised, engine.connect() as connection:
        connection.execute(text("SELECT * FROM no_such_table WHERE x = :x"), {"x": "secret@x.org"})
    assert "secret@x.org" not in str(raised.value)


@pytest.mark.parametrize("kind", ["json", "text"])
def test_an_address_quoted_anyway_is_left_out(kind):
    """A mail server's refusal quotes the address, and so does its exception's text."""
    buffer = io.StringIO()
    handler = logs.make_handler(kind, buffer)
    logger = logging.getLogger("tracker.test_redaction")
    logger.addHandler(handler)
    try:
        try:
            raise RuntimeError("{'zéphyrine.q+1@mail.example.org': (550, b'unknown user')}")
        except RuntimeError as e:
            logger.warning("refused: %s", "550 <camille.martin@vegepolys.example>", exc_info=e)
    finally:
        logger.removeHandler(handler)
    text = buffer.getvalue()
    assert "zéphyrine" not in text and "camille.martin" not in text
    assert "vegepolys.example" not in text and "mail.example.org" not in text
    assert text.count("<e-mail>") >= 2
    assert "RuntimeError: {'<e-mail>': (550" in text
    if kind == "json":
        assert json.loads(text)["message"] == "refused: 550 <<e-mail>>"


def test_the_development_servers_request_lines_are_left_out():
    """werkzeug's line per request shows the path as sent, a private link's token
    included; its other lines (the address it serves on) stay."""
    buffer = io.StringIO()
    handler = logs.make_handler("text", buffer)
    werkzeug = logging.getLogger("werkzeug")
    werkzeug.addHandler(handler)
    try:
        werkzeug.warning('127.0.0.1 - - [10/Dec/2026 09:14:03] "GET /r/Zk3x9Q HTTP/1.1" 200 -')
        werkzeug.warning("Running on http://127.0.0.1:5000")
    finally:
        werkzeug.removeHandler(handler)
    assert "Zk3x9Q" not in buffer.getvalue()
    assert "Running on http://127.0.0.1:5000" in buffer.getvalue()
