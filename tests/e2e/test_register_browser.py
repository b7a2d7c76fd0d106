"""A person registers through a real browser (Debian's chromium driven by Playwright)."""

from __future__ import annotations

import io
import re
from email import message_from_bytes, policy
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from flask import Flask
from flask_babel import gettext
from sqlalchemy import func, select

from tracker.models import Registration
from tracker.registration.forms import REQUIRED
from tracker.registration.identity import email_key

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture skips, or fails where a browser is required
    expect = None

if TYPE_CHECKING:
    from .conftest import LiveEvent, LiveServer

pytestmark = pytest.mark.e2e


def translated(app: Flask, locale: str, message: Any) -> str:
    """What the app shows for `message` (a msgid or a lazy string) to a reader of `locale`."""
    with app.test_request_context("/", headers={"Accept-Language": locale}):
        return str(message) if not isinstance(message, str) else gettext(message)


def registrations_for(app: Flask, event: LiveEvent, address: str) -> int:
    with app.extensions["db"].sessionmaker() as dbs:
        return dbs.scalar(
            select(func.count(Registration.id)).where(
                Registration.event_id == event.id, Registration.email_key == email_key(address)
            )
        )


def fill_the_form(page: Any, event: LiveEvent, *, first_name: str, address: str) -> None:
    page.get_by_label("First name").fill(first_name)
    page.get_by_label("Last name").fill("Martin")
    page.get_by_label("E-mail address").fill(address)
    organisation = page.get_by_label("Organisation", exact=True)
    organisation.press_sequentially("vegepolys")
    organisation.press("Tab")
    # A known organisation, whatever its case, pre-selects its usual type...
    assert page.get_by_label("Competitiveness cluster").is_checked()
    # ...which the person confirms.
    page.get_by_label("Competitiveness cluster").check()
    page.get_by_label(event.session_titles[1]).check()
    page.get_by_label("I agree that my data is processed").check()


def decode_qr(png: bytes) -> list[str]:
    import zxingcpp
    from PIL import Image

    return [r.text for r in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))]


def test_a_person_registers_and_gets_a_qr_code_of_their_checkin_code(
    page: Any, live_server: LiveServer, live_event: LiveEvent, screenshots: Path
) -> None:
    address = "camille.martin@vegepolys.example"
    page.goto(live_server(f"/events/{live_event.slug}"))
    assert page.locator("h1").inner_text() == live_event.title
    page.screenshot(path=screenshots / "event.png", full_page=True)

    page.get_by_role("link", name="Register", exact=True).click()
    page.wait_for_url(f"**/events/{live_event.slug}/register")
    fill_the_form(page, live_event, first_name="Camille", address=address)
    page.screenshot(path=screenshots / "form-filled.png", full_page=True)
    page.get_by_role("button", name="Register").click()

    page.wait_for_url(re.compile(r"/r/[A-Za-z0-9_-]{20,64}$"))
    main = page.locator("main")
    assert main.get_attribute("data-status") == "confirmed"
    assert "You are registered" in main.locator(".flash-success").inner_text()
    facts = main.locator(".facts").inner_text()
    assert "Camille Martin" in facts
    assert address in facts
    assert "Vegepolys (Cluster)" in facts  # the known organisation, not a new "vegepolys"
    assert live_event.session_titles[1] in facts
    assert live_event.session_titles[0] not in facts

    qr = main.locator("figure.qr img")
    assert qr.evaluate("img => img.complete && img.naturalWidth") > 0
    code = main.locator(".checkin-code").inner_text().strip()
    assert re.fullmatch(r"[A-Z2-7]{26}", code)
    png = page.request.get(qr.evaluate("img => img.currentSrc")).body()
    assert decode_qr(png) == [code]
    page.screenshot(path=screenshots / "registered.png", full_page=True)

    assert registrations_for(live_server.app, live_event, address) == 1
    mails = [
        message_from_bytes(p.read_bytes(), policy=policy.default)
        for p in live_server.outbox.glob("*.eml")
    ]
    sent = [m for m in mails if m["To"] == address]
    assert len(sent) == 1
    assert page.url in sent[0].get_body(preferencelist=("plain",)).get_content()


def test_an_empty_first_name_is_refused_next_to_the_field_and_nothing_is_saved(
    page: Any, live_server: LiveServer, live_event: LiveEvent, screenshots: Path
) -> None:
    address = "dominique.empty@vegepolys.example"
    page.goto(live_server(f"/events/{live_event.slug}/register"))
    fill_the_form(page, live_event, first_name="", address=address)
    page.get_by_role("button", name="Register").click()

    first_name = page.locator(".field", has=page.get_by_label("First name"))
    expect(first_name.locator(".error")).to_have_text(translated(live_server.app, "en", REQUIRED))
    assert page.url == live_server(f"/events/{live_event.slug}/register")
    assert page.get_by_label("First name").get_attribute("aria-invalid") == "true"
    assert page.locator(".field.has-error").count() == 1  # only that field
    # What the person typed is still there, ready to be corrected.
    assert page.get_by_label("E-mail address").input_value() == address
    assert page.get_by_label("Competitiveness cluster").is_checked()
    assert page.get_by_label(live_event.session_titles[1]).is_checked()
    page.screenshot(path=screenshots / "form-error.png", full_page=True)
    assert registrations_for(live_server.app, live_event, address) == 0


def test_the_language_switcher_shows_the_pages_in_french(
    page: Any, live_server: LiveServer, live_event: LiveEvent, screenshots: Path
) -> None:
    app = live_server.app
    page.goto(live_server(f"/events/{live_event.slug}"))
    assert page.locator("html").get_attribute("lang") == "en"

    page.locator("nav.lang").get_by_role("link", name="Français").click()
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    assert page.url == live_server(f"/events/{live_event.slug}")  # back where it was
    expect(page.locator("nav.lang [aria-current]")).to_have_text("Français")
    page.screenshot(path=screenshots / "event-fr.png", full_page=True)

    register_fr = translated(app, "fr", "Register")
    assert register_fr != "Register", "no French translation: is messages.mo compiled (make)?"
    page.get_by_role("link", name=register_fr, exact=True).click()
    page.wait_for_url(f"**/events/{live_event.slug}/register")
    expect(page.locator("h1")).to_have_text(register_fr)

    # The choice is remembered, and errors come in French too.
    page.get_by_role("button", name=register_fr).click()
    required_fr = translated(app, "fr", REQUIRED)
    assert required_fr != translated(app, "en", REQUIRED)
    first_name = page.locator(".field", has=page.locator("#first_name"))
    expect(first_name.locator(".error")).to_have_text(required_fr)
    page.screenshot(path=screenshots / "form-error-fr.png", full_page=True)
