"""The statistics dashboard in a real browser: an organiser watches it while someone is
checked in at the door, and the figures change without the page reloading."""

from __future__ import annotations

import re
import secrets
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import delete

from tracker.auth.services import create_user
from tracker.checkin.services import check_in
from tracker.models import Event, OrganisationType, Role, User
from tracker.registration.services import RegistrationData, register

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture skips, or fails where a browser is required
    expect = None

if TYPE_CHECKING:
    from .conftest import LiveEvent, LiveServer

pytestmark = pytest.mark.e2e

PASSWORD = "organiser password 2026"


def test_the_dashboard_follows_arrivals_without_reloading(
    browser: Any, live_server: LiveServer, live_event: LiveEvent, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = live_server.app
    database = app.extensions["db"]
    monkeypatch.setitem(app.config, "STATS_REFRESH_SECONDS", 1)
    email = f"organiser-{secrets.token_hex(4)}@example.org"
    with app.app_context(), database.sessionmaker.begin() as dbs:
        event = dbs.get(Event, live_event.id)
        user_id = create_user(dbs, email, PASSWORD, Role.ORGANISER, [event]).id
        person = register(
            dbs,
            event,
            RegistrationData(
                first_name="Hélène",
                last_name="Statistique",
                email=f"helene.{secrets.token_hex(3)}@example.org",
                organisation="Vegepolys",
                organisation_type=OrganisationType.CLUSTER,
                consent=True,
                locale="en",
            ),
        )
        code = person.checkin_code
    context = browser.new_context(locale="en-GB", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        page.goto(live_server(f"/events/{live_event.slug}/stats"))
        page.wait_for_url(re.compile(r"/login\?next="))
        page.locator("input[name=email]").fill(email)
        page.locator("input[name=password]").fill(PASSWORD)
        page.locator("form.login button[type=submit]").click()
        page.wait_for_url(f"**/events/{live_event.slug}/stats")
        present = page.locator(".cards .present .value")
        before = int(present.inner_text())
        page.evaluate("window.stillTheSamePage = true")

        with app.app_context(), database.sessionmaker.begin() as dbs:
            check_in(dbs, dbs.get(Event, live_event.id), actor=None, door="A", code=code)

        expect(present).to_have_text(str(before + 1))
        cluster = page.locator("#table-by-type tr[data-type=cluster] td").nth(2)
        expect(cluster).to_have_text(re.compile(r"[1-9]"))
        assert page.evaluate("window.stillTheSamePage") is True  # no reload happened

        # The organisation table is not in the refresh: it reloads alone when sorted.
        table = page.locator("#table-by-organisation")
        table.get_by_role("link", name="Organisation").click()
        expect(table.locator("th[aria-sort=ascending]")).to_contain_text("Organisation")
        expect(page).to_have_url(re.compile(r"sort=name"))
        names = table.locator("tbody th").all_inner_texts()
        assert names == sorted(names, key=str.casefold)
        assert page.evaluate("window.stillTheSamePage") is True
    finally:
        context.close()
        with database.sessionmaker.begin() as dbs:
            dbs.execute(delete(User).where(User.id == user_id))
