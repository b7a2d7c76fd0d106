"""The public registration form: limited per client address, and the private link
e-mailed again at most once every ten minutes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

import config
from tests.conftest import form_data, make_event, make_registration
from tracker.auth.ratelimit import limiter_for
from tracker.db import utcnow
from tracker.models import Registration
from tracker.registration import services


@pytest.fixture(autouse=True)
def fresh_limiter(app):
    limiter_for(app).reset()
    yield
    limiter_for(app).reset()


@pytest.fixture
def real_limit(app, monkeypatch):
    """The shipped limit (the test configuration raises it for the rest of the suite)."""
    monkeypatch.setitem(
        app.config, "REGISTER_LIMIT_PER_ADDRESS", config.Config.REGISTER_LIMIT_PER_ADDRESS
    )


def _count(db, event) -> int:
    return db.scalar(select(func.count(Registration.id)).where(Registration.event_id == event.id))


def post(client, event, data, address="198.51.100.20"):
    return client.post(
        f"/events/{event.slug}/register", data=data, environ_overrides={"REMOTE_ADDR": address}
    )


def test_shipped_registration_limit_lets_an_office_register_its_team():
    assert config.Config.REGISTER_LIMIT_PER_ADDRESS == "20 per minute; 200 per hour"


def test_too_many_registrations_from_one_address_are_refused(client, db, real_limit):
    event = make_event(db, capacity=500)
    db.commit()
    for _ in range(20):
        assert post(client, event, form_data(event)).status_code == 303
    data = form_data(event, first_name="Anne-Sophie", organisation="Cluster Lumière")
    response = post(client, event, data)
    assert response.status_code == 429
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    page = response.text
    assert "Too many registrations have been sent from your network" in page
    assert "wait 1 minute, then send the form again" in page
    # What the person typed is kept.
    assert 'value="Anne-Sophie"' in page and 'value="Cluster Lumière"' in page
    assert _count(db, event) == 20
    # Another address is not held back.
    assert post(client, event, form_data(event), address="192.0.2.30").status_code == 303
    assert _count(db, event) == 21


def test_the_limit_counts_every_form_sent(client, db, app, monkeypatch):
    monkeypatch.setitem(app.config, "REGISTER_LIMIT_PER_ADDRESS", "3 per hour")
    event = make_event(db)
    db.commit()
    for _ in range(3):  # invalid forms count too: each costs the app as much
        assert post(client, event, form_data(event, email="no address")).status_code == 422
    response = post(client, event, form_data(event))
    assert response.status_code == 429
    assert 3500 < int(response.headers["Retry-After"]) <= 3600
    assert "wait 60 minutes" in response.text
    assert _count(db, event) == 0


def test_the_refusal_is_translated(client, db, real_limit):
    event = make_event(db)
    db.commit()
    for _ in range(20):
        post(client, event, form_data(event, email="no address"))
    response = client.post(
        f"/events/{event.slug}/register",
        data=form_data(event),
        headers={"Accept-Language": "fr"},
        environ_overrides={"REMOTE_ADDR": "198.51.100.20"},
    )
    assert response.status_code == 429
    assert "Trop d’inscriptions" in response.text


def test_the_link_is_sent_again_at_most_once_every_ten_minutes(client, db, outbox, monkeypatch):
    event = make_event(db)
    first = make_registration(db, event, email="helene@example.org")
    db.commit()
    for _ in range(20):
        response = post(client, event, form_data(event, email="helene@example.org"))
        assert response.status_code == 200
        assert "We have sent the private link to that address again" in response.text
    [mail] = outbox.to("helene@example.org")
    assert first.manage_token in mail.get_body(("plain",)).get_content()

    later = utcnow() + timedelta(minutes=9)
    monkeypatch.setattr(services, "utcnow", lambda: later)
    post(client, event, form_data(event, email="helene@example.org"))
    assert len(outbox.to("helene@example.org")) == 1

    later = utcnow() + timedelta(minutes=11)
    monkeypatch.setattr(services, "utcnow", lambda: later)
    response = post(client, event, form_data(event, email="helene@example.org"))
    assert "We have sent the private link to that address again" in response.text
    assert len(outbox.to("helene@example.org")) == 2
    assert _count(db, event) == 1


def test_the_link_again_is_counted_per_registration(client, db, outbox):
    event = make_event(db)
    make_registration(db, event, email="a@example.org")
    make_registration(db, event, email="b@example.org")
    db.commit()
    for _ in range(3):
        post(client, event, form_data(event, email="a@example.org"))
        post(client, event, form_data(event, email="b@example.org"))
    assert len(outbox.to("a@example.org")) == len(outbox.to("b@example.org")) == 1
