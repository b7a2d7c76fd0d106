"""Answers in the browser: the door's result shows the answers to the questions marked
as shown at the door, under the name, and none of the others; the organiser filters the
registrations on an answer and reads the counts per option, at a phone's width."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import delete

from tracker.auth.services import create_user
from tracker.models import Answer, Event, OrganisationType, Question, QuestionKind, Role, User
from tracker.registration.services import RegistrationData, register

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture skips, or fails where a browser is required
    expect = None

if TYPE_CHECKING:
    from .conftest import LiveEvent, LiveServer

pytestmark = pytest.mark.e2e

PASSWORD = "door staff password 2026"
ORGANISER_PASSWORD = "organiser password 2026"
PHONE = {"width": 360, "height": 740}
AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
AXE_RESULTS = """async () => {
  const results = await axe.run(document, {resultTypes: ["violations"]});
  return results.violations.map(v => v.id + ": " + v.help + " — "
    + v.nodes.slice(0, 3).map(n => n.target.join(" ")).join(", "));
}"""


def accessible(page: Any) -> None:
    """The page is no wider than the phone, and axe-core finds nothing."""
    page.wait_for_load_state("load")  # its stylesheets applied
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.add_script_tag(path=str(AXE))
    assert page.evaluate(AXE_RESULTS) == []


@pytest.fixture(scope="module")
def door(live_server: LiveServer, live_event: LiveEvent) -> Iterator[tuple[str, str]]:
    """A door account, and the check-in code of a person who answered two questions:
    Diet (shown at the door) and Remarks (not)."""
    app = live_server.app
    database = app.extensions["db"]
    email = f"door-{secrets.token_hex(4)}@example.org"
    with app.app_context(), database.sessionmaker.begin() as dbs:
        event = dbs.get(Event, live_event.id)
        user = create_user(dbs, email, PASSWORD, Role.DOOR, [event])
        organiser = create_user(
            dbs, f"organiser-{email}", ORGANISER_PASSWORD, Role.ORGANISER, [event]
        )
        user_ids = [user.id, organiser.id]
        diet = Question(
            event=event,
            label="Régime alimentaire",
            kind=QuestionKind.CHOICE,
            choices=["Végétarien sans gluten ni lactose, merci"],
            at_door=True,
            position=0,
        )
        remarks = Question(event=event, label="Remarks", kind=QuestionKind.TEXT, position=1)
        dbs.add_all([diet, remarks])
        dbs.flush()
        person = register(
            dbs,
            event,
            RegistrationData(
                first_name="Anne-Sophie",
                last_name="Quéméneur-Kerguelen",
                email=f"anne.{secrets.token_hex(3)}@example.org",
                organisation="Vegepolys",
                organisation_type=OrganisationType.CLUSTER,
                consent=True,
                locale="en",
            ),
        )
        dbs.add_all(
            [
                Answer(registration_id=person.id, question_id=diet.id, value=diet.choices[0]),
                Answer(registration_id=person.id, question_id=remarks.id, value="Not for the door"),
            ]
        )
        code, token, person_id = person.checkin_code, person.manage_token, person.id
    try:
        yield email, code, token, person_id
    finally:
        with database.sessionmaker.begin() as dbs:
            dbs.execute(delete(User).where(User.id.in_(user_ids)))


def test_the_door_result_shows_the_at_door_answers_under_the_name(
    browser: Any, live_server: LiveServer, live_event: LiveEvent, door: Any, screenshots: Path
) -> None:
    email, code, _token, _id = door
    context = browser.new_context(locale="en-GB", viewport=PHONE, bypass_csp=True)
    page = context.new_page()
    try:
        page.goto(live_server(f"/events/{live_event.slug}/door"))
        page.wait_for_url(re.compile(r"/login\?next="))
        page.locator("input[name=email]").fill(email)
        page.locator("input[name=password]").fill(PASSWORD)
        page.locator("form.login button[type=submit]").click()
        page.wait_for_url(f"**/events/{live_event.slug}/door")
        page.locator("#door-input").click()
        page.keyboard.type(code)
        page.keyboard.press("Enter")
        result = page.locator("#door-result")
        expect(result).to_have_attribute("data-result", "ok")
        answers = result.locator(".door-result-answers li")
        expect(answers).to_have_count(1)
        expect(answers.first).to_have_text(
            "Régime alimentaire: Végétarien sans gluten ni lactose, merci"
        )
        expect(result).not_to_contain_text("Not for the door")
        expect(page.locator("#door-announce")).to_contain_text("Régime alimentaire")
        page.screenshot(path=screenshots / "door-phone-answers.png")
        accessible(page)
    finally:
        context.close()


def test_the_organiser_filters_on_an_answer_and_reads_the_counts_on_a_phone(
    browser: Any, live_server: LiveServer, live_event: LiveEvent, door: Any, screenshots: Path
) -> None:
    email, _code, token, person_id = door
    context = browser.new_context(locale="en-GB", viewport=PHONE, bypass_csp=True)
    page = context.new_page()
    try:
        page.goto(live_server(f"/events/{live_event.slug}/registrations"))
        page.wait_for_url(re.compile(r"/login\?next="))
        page.locator("input[name=email]").fill(f"organiser-{email}")
        page.locator("input[name=password]").fill(ORGANISER_PASSWORD)
        page.locator("form.login button[type=submit]").click()
        page.wait_for_url(f"**/events/{live_event.slug}/registrations")
        page.get_by_label("Régime alimentaire").select_option(
            "Végétarien sans gluten ni lactose, merci"
        )
        page.get_by_role("button", name="Filter").click()
        expect(page.locator("p.summary")).to_have_attribute("data-total", "1")
        expect(page.locator("tr[data-registration]")).to_contain_text("Quéméneur-Kerguelen")
        accessible(page)
        page.screenshot(path=screenshots / "registrations-phone-answer-filter.png")

        page.goto(live_server(f"/events/{live_event.slug}/stats"))
        table = page.locator("#answers table").first
        expect(table.locator("caption")).to_have_text("Régime alimentaire")
        expect(table.locator("tbody tr").first.locator("td").first).to_have_text("1")
        accessible(page)
        page.locator("#answers").screenshot(path=screenshots / "stats-phone-answers.png")

        page.goto(live_server(f"/events/{live_event.slug}/registrations/{person_id}"))
        expect(page.locator("dl.answers")).to_contain_text("Not for the door")
        accessible(page)
        page.goto(live_server(f"/r/{token}"))
        expect(page.locator("dd.answer").first).to_have_text(
            "Végétarien sans gluten ni lactose, merci"
        )
        accessible(page)
    finally:
        context.close()
