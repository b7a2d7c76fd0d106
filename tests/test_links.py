"""Absolute links come from TRACKER_BASE_URL, never from the request's Host header;
the calendar file holds the public event page, not the private link; production
answers only the host names it is configured for."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from email.message import EmailMessage

import pytest
from flask import Flask
from icalendar import Calendar

from tests.conftest import form_data, make_event, make_registration
from tracker import create_app
from tracker.links import absolute_url
from tracker.models import Registration

BASE = "https://inscriptions.example.org/tracker"
EVIL = "evil.example"


def everything_in(message: EmailMessage) -> str:
    """Every text part of the message (the calendar file unfolded) as one string."""
    texts = []
    for part in message.walk():
        if part.get_content_maintype() == "text":
            texts.append(part.get_content().replace("\r\n ", ""))
    return "\n".join(texts)


def calendar_event(ics: str | bytes):  # type: ignore[no-untyped-def]
    (vevent,) = Calendar.from_ical(ics).walk("VEVENT")
    return vevent


def ics_part(message: EmailMessage) -> str:
    (part,) = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    return part.get_content()  # type: ignore[no-any-return]


def saved(db, email: str) -> Registration:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    db.expire_all()
    return db.scalars(select(Registration).where(Registration.email == email)).one()


@pytest.fixture
def base_url(app: Flask, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setitem(app.config, "BASE_URL", BASE)
    return BASE


# --- the links of the e-mails and of the calendar file -----------------------------------


@pytest.mark.parametrize(
    "forged",
    [
        {"base_url": f"http://{EVIL}"},
        {"headers": {"Host": EVIL}},
        {"headers": {"X-Forwarded-Host": EVIL, "X-Forwarded-Proto": "http"}},
    ],
    ids=["host", "host-header", "forwarded-host"],
)
def test_a_forged_host_never_reaches_the_links_of_the_mail(client, db, outbox, base_url, forged):
    event = make_event(db)
    db.commit()
    data = form_data(event)

    response = client.post(f"/events/{event.slug}/register", data=data, **forged)

    assert response.status_code == 303
    registration = saved(db, str(data["email"]))
    (message,) = outbox.to(str(data["email"]))
    sent = everything_in(message)
    assert EVIL not in sent
    assert f"{BASE}/r/{registration.manage_token}" in message.get_body(("plain",)).get_content()
    assert (
        f'href="{BASE}/r/{registration.manage_token}"' in message.get_body(("html",)).get_content()
    )
    assert str(calendar_event(ics_part(message))["url"]) == f"{BASE}/events/{event.slug}"


def test_the_link_sent_again_to_a_registered_address_is_on_the_base_url(
    client, db, outbox, base_url
):
    event = make_event(db)
    person = make_registration(db, event)
    db.commit()
    outbox.clear()  # the confirmation

    response = client.post(
        f"/events/{event.slug}/register",
        data=form_data(event, email=person.email),
        base_url=f"http://{EVIL}",
    )

    assert response.status_code == 200
    (message,) = outbox.to(person.email)
    assert EVIL not in everything_in(message)
    assert f"{BASE}/r/{person.manage_token}" in everything_in(message)


def test_links_outside_a_request_are_on_the_base_url(app, base_url):
    with app.app_context():
        assert absolute_url("registration.manage", token="abc") == f"{BASE}/r/abc"
        assert absolute_url("events.show", slug="bercy-2012") == f"{BASE}/events/bercy-2012"


def test_the_calendar_file_carries_the_event_page_and_no_private_link(client, db, outbox, base_url):
    event = make_event(db, organiser="DGE")
    db.commit()
    data = form_data(event)
    client.post(f"/events/{event.slug}/register", data=data, base_url=f"http://{EVIL}")
    registration = saved(db, str(data["email"]))

    downloaded = client.get(f"/r/{registration.manage_token}/event.ics", base_url=f"http://{EVIL}")
    assert downloaded.status_code == 200
    (message,) = outbox.to(str(data["email"]))
    event_page = f"{BASE}/events/{event.slug}"
    for ics in (downloaded.get_data(as_text=True), ics_part(message)):
        unfolded = ics.replace("\r\n ", "")
        assert registration.manage_token not in unfolded
        assert "/r/" not in unfolded
        assert registration.checkin_code not in unfolded  # not in the UID either
        assert EVIL not in unfolded
        vevent = calendar_event(ics)
        assert str(vevent["url"]) == event_page
        assert str(vevent["description"]).splitlines() == ["DGE", event_page]
        assert str(vevent["summary"]) == event.title
    # The same registration keeps the same UID: a second import updates the entry.
    again = client.get(f"/r/{registration.manage_token}/event.ics").get_data(as_text=True)
    assert calendar_event(again)["uid"] == calendar_event(ics_part(message))["uid"]


# --- production: the host names the app answers to ------------------------------------------


@pytest.fixture
def production(app: Flask, db) -> Iterator[Flask]:  # type: ignore[no-untyped-def]
    """Build a production app on the test database (sharing the test's transaction)."""
    made: list[Flask] = []

    def build(**settings: object) -> Flask:
        values = {
            "ENV_NAME": "production",
            "SECRET_KEY": "p" * 40,
            "DATABASE_URL": app.config["DATABASE_URL"],
            "BASE_URL": "https://tracker.example",
            "MAIL_OUTBOX": app.config["MAIL_OUTBOX"],
            "QUEUE_URL": app.config["QUEUE_URL"],  # e-mails sent as the test's app does
            "WTF_CSRF_ENABLED": False,
            **settings,
        }
        built = create_app(values)
        built.extensions["db"].sessionmaker = app.extensions["db"].sessionmaker
        made.append(built)
        return built

    yield build  # type: ignore[misc]
    for built in made:
        built.extensions["db"].engine.dispose()
    gc.unfreeze()


def get(app: Flask, path: str, host: str, **headers: str):  # type: ignore[no-untyped-def]
    with app.test_client() as c:
        return c.get(path, base_url=f"https://{host}", headers=headers)


def test_production_answers_its_host_and_refuses_others_with_a_plain_400(production):
    prod = production()
    for host in ("tracker.example", "TRACKER.example", "tracker.example:8443"):
        assert get(prod, "/", host).status_code == 200, host
    for host in (EVIL, f"{EVIL}:443", f"tracker.example.{EVIL}", "127.0.0.1", "localhost"):
        refused = get(prod, "/", host, **{"Accept-Language": "en"})
        assert refused.status_code == 400, host
        assert refused.mimetype == "text/html"
        assert "This site does not answer at this address." in refused.text
        assert "Traceback" not in refused.text
    french = get(prod, "/", EVIL, **{"Accept-Language": "fr"})
    assert "Ce site ne répond pas à cette adresse." in french.text
    # Static files and the login page too: nothing is served on a foreign host.
    assert get(prod, "/static/css/app.css", EVIL).status_code == 400
    assert get(prod, "/login", EVIL).status_code == 400


def test_production_api_refuses_a_foreign_host_in_json(production):
    prod = production()
    refused = get(prod, "/api/v1/openapi.json", EVIL)
    assert refused.status_code == 400
    assert refused.get_json()["error"] == "unknown_host"
    assert get(prod, "/api/v1/openapi.json", "tracker.example").status_code == 200


def test_production_refuses_a_registration_sent_to_a_foreign_host(production, db, outbox):
    prod = production()
    event = make_event(db)
    db.commit()
    data = form_data(event)
    with prod.test_client() as c:
        refused = c.post(f"/events/{event.slug}/register", data=data, base_url=f"https://{EVIL}")
        accepted = c.post(
            f"/events/{event.slug}/register",
            data=form_data(event),
            base_url="https://tracker.example",
        )
    assert refused.status_code == 400
    assert outbox.to(str(data["email"])) == []
    assert accepted.status_code == 303
    (message,) = outbox.messages
    assert "https://tracker.example/r/" in everything_in(message)


def test_forwarded_host_headers_do_not_reopen_the_hole(production):
    prod = production(PROXY_COUNT="1")
    # The proxy's X-Forwarded-Host is not read: the Host header decides.
    refused = get(prod, "/", EVIL, **{"X-Forwarded-Host": "tracker.example"})
    assert refused.status_code == 400
    answered = get(prod, "/", "tracker.example", **{"X-Forwarded-Host": EVIL})
    assert answered.status_code == 200


def test_trusted_hosts_can_name_several_hosts(production):
    prod = production(TRUSTED_HOSTS="tracker.example, www.tracker.example")
    assert get(prod, "/", "www.tracker.example").status_code == 200
    assert get(prod, "/", "tracker.example").status_code == 200
    assert get(prod, "/", EVIL).status_code == 400


def test_an_empty_or_capitalised_list_of_hosts_does_not_open_production(production):
    empty = production(TRUSTED_HOSTS=[])
    assert empty.config["TRUSTED_HOSTS"] == ["tracker.example"]
    assert get(empty, "/", EVIL).status_code == 400
    capitals = production(TRUSTED_HOSTS=["Tracker.Example"])
    assert get(capitals, "/", "tracker.example").status_code == 200


def test_development_answers_any_host(client):
    assert client.get("/", base_url=f"http://{EVIL}").status_code == 200


# --- the settings, checked at start-up ----------------------------------------------------


def test_production_refuses_to_start_without_a_base_url(database_url):
    with pytest.raises(RuntimeError, match="TRACKER_BASE_URL must be set in production"):
        create_app({"ENV_NAME": "production", "SECRET_KEY": "p" * 40, "DATABASE_URL": database_url})


@pytest.mark.parametrize(
    "value",
    [
        "tracker.example",
        "ftp://tracker.example",
        "https://",
        "https:///path",
        "https://tracker.example/?next=x",
        "https://tracker.example/#top",
        "https://user:secret@tracker.example",
        "https://tracker.example:port",
        "https://tracker example",
        "javascript:alert(1)",
    ],
)
def test_a_base_url_that_is_not_an_absolute_http_url_refuses_to_start(database_url, value):
    with pytest.raises(RuntimeError, match="TRACKER_BASE_URL must be an absolute http"):
        create_app({"ENV_NAME": "testing", "DATABASE_URL": database_url, "BASE_URL": value})


@pytest.mark.parametrize("value", ["https://tracker.example", "tracker.example/x", "a b", ".,"])
def test_trusted_hosts_that_are_not_host_names_refuse_to_start(database_url, value):
    with pytest.raises(RuntimeError, match="TRACKER_TRUSTED_HOSTS"):
        create_app({"ENV_NAME": "testing", "DATABASE_URL": database_url, "TRUSTED_HOSTS": value})


def test_base_url_and_trusted_hosts_as_read_at_start_up(database_url):
    dev = create_app({"ENV_NAME": "testing", "DATABASE_URL": database_url})
    assert dev.config["BASE_URL"] == "http://127.0.0.1:5000"
    assert dev.config["TRUSTED_HOSTS"] is None
    slash = create_app(
        {"ENV_NAME": "testing", "DATABASE_URL": database_url, "BASE_URL": "https://t.example/x/"}
    )
    assert slash.config["BASE_URL"] == "https://t.example/x"
    for made in (dev, slash):
        made.extensions["db"].engine.dispose()
