"""A field's error goes as soon as the field is fixed (tracker/static/js/fields.js), on
the public registration form and on an organiser's form; the server still judges."""

from __future__ import annotations

import re
import secrets
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import delete

from tracker.auth.services import create_user
from tracker.models import Event, Role, User

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture skips, or fails where a browser is required
    expect = None

if TYPE_CHECKING:
    from .conftest import LiveEvent, LiveServer

pytestmark = pytest.mark.e2e

PASSWORD = "organiser password 2026"


def field(page: Any, label: str) -> Any:
    return page.locator(".field", has=page.get_by_label(label, exact=True))


def test_an_error_goes_once_its_field_is_fixed_and_the_others_stay(
    page: Any, live_server: LiveServer, live_event: LiveEvent
) -> None:
    page.goto(live_server(f"/events/{live_event.slug}/register"))
    page.get_by_role("button", name="Register").click()
    first_name, email = field(page, "First name"), field(page, "E-mail address")
    expect(first_name.locator(".error")).to_be_visible()
    expect(email.locator(".error")).to_be_visible()
    # The page with the errors has run its (deferred) script before anyone types: a
    # person cannot type sooner, and an input made earlier would find no listener.
    page.wait_for_load_state("load")
    errors = page.locator(".has-error").count()
    assert errors >= 4  # names, e-mail, organisation, its type, consent

    page.get_by_label("First name").fill("Camille")
    expect(first_name.locator(".error")).to_have_count(0)
    expect(page.get_by_label("First name")).not_to_have_attribute("aria-invalid", "true")
    assert "has-error" not in (first_name.get_attribute("class") or "")
    assert page.locator(".has-error").count() == errors - 1  # the others stay

    # An address is not fixed until it is one.
    page.get_by_label("E-mail address").fill("camille@")
    expect(email.locator(".error")).to_be_visible()
    assert page.get_by_label("E-mail address").get_attribute("aria-invalid") == "true"
    page.get_by_label("E-mail address").press_sequentially("vegepolys.example")
    expect(email.locator(".error")).to_have_count(0)
    described = page.get_by_label("E-mail address").get_attribute("aria-describedby") or ""
    assert "error" not in described  # no reference left to the message gone

    consent = page.locator(".field.consent")
    page.get_by_label("I agree that my data is processed").check()
    expect(consent.locator(".error")).to_have_count(0)

    # The server stays the judge: sent as it is, the form comes back with the rest.
    page.get_by_role("button", name="Register").click()
    expect(field(page, "Last name").locator(".error")).to_be_visible()
    expect(first_name.locator(".error")).to_have_count(0)


def test_an_organisers_date_error_goes_once_the_date_is_written_as_asked(
    browser: Any, live_server: LiveServer, live_event: LiveEvent
) -> None:
    app = live_server.app
    database = app.extensions["db"]
    email = f"organiser-{secrets.token_hex(4)}@example.org"
    with app.app_context(), database.sessionmaker.begin() as dbs:
        user_id = create_user(
            dbs, email, PASSWORD, Role.ORGANISER, [dbs.get(Event, live_event.id)]
        ).id
    context = browser.new_context(locale="fr-FR", viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        page.goto(live_server(f"/events/{live_event.slug}/edit"))
        page.wait_for_url(re.compile(r"/login\?next="))
        page.locator("input[name=email]").fill(email)
        page.locator("input[name=password]").fill(PASSWORD)
        page.locator("form.login button[type=submit]").click()
        page.wait_for_url(f"**/events/{live_event.slug}/edit")
        starts = page.locator("input[name=starts_at]")
        assert re.fullmatch(r"\d\d/\d\d/\d{4} \d\d:\d\d", starts.input_value())  # day first
        assert starts.get_attribute("placeholder") == "JJ/MM/AAAA HH:MM"
        starts.fill("2031/01/04 9am")
        page.locator("form.organiser-form button[type=submit]").first.click()
        error = page.locator(".field", has=starts).locator(".error")
        expect(error).to_contain_text("JJ/MM/AAAA HH:MM")
        page.wait_for_load_state("load")  # its script runs before anyone types
        starts.fill("04/01/20")
        expect(error).to_be_visible()  # not a date and time yet
        starts.press_sequentially("31 09:00")
        expect(error).to_have_count(0)
        expect(starts).not_to_have_attribute("aria-invalid", "true")
    finally:
        context.close()
        with database.sessionmaker.begin() as dbs:
            dbs.execute(delete(User).where(User.id == user_id))
