"""An event's own questions in a real browser: a question asked only of some types or
sessions shows when the form's choices make it apply, and the answers are saved."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import select

from tracker.models import Event, Registration
from tracker.questions.answers import answers_of
from tracker.questions.services import QuestionSpec, add_question
from tracker.registration.identity import email_key

if TYPE_CHECKING:
    from .conftest import LiveEvent, LiveServer

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def questions(live_server: LiveServer, live_event: LiveEvent) -> dict[str, int]:
    app = live_server.app
    with app.app_context(), app.extensions["db"].sessionmaker.begin() as dbs:
        event = dbs.get(Event, live_event.id)
        assert event is not None
        second = event.sessions[1].id
        made = {
            "lunch": add_question(
                dbs, event, QuestionSpec("Lunch on site", "yes_no", required=True), actor=None
            ),
            "member": add_question(
                dbs,
                event,
                QuestionSpec("Cluster member number", "text", types=["cluster"]),
                actor=None,
            ),
            "menu": add_question(
                dbs,
                event,
                QuestionSpec(
                    "Round table menu",
                    "choice",
                    choices=["Fish", "Vegetarian"],
                    session_ids=[second],
                ),
                actor=None,
            ),
        }
        return {name: q.id for name, q in made.items()}


def test_limited_questions_show_when_they_apply_and_answers_are_saved(
    page: Any, live_server: LiveServer, live_event: LiveEvent, questions: dict[str, int]
) -> None:
    page.goto(live_server(f"/events/{live_event.slug}/register"))
    member = page.locator(f'.question[data-question="{questions["member"]}"]')
    menu = page.locator(f'.question[data-question="{questions["menu"]}"]')
    assert page.locator(f'.question[data-question="{questions["lunch"]}"]').is_visible()
    assert member.is_hidden() and menu.is_hidden()

    page.get_by_label("First name").fill("Ada")
    page.get_by_label("Last name").fill("Questionnée")
    page.get_by_label("E-mail address").fill("ada.questions@example.org")
    page.get_by_label("Organisation", exact=True).fill("Vegepolys")
    page.get_by_label("Ministry").check()
    assert member.is_hidden()
    page.get_by_label("Competitiveness cluster").check()
    assert member.is_visible()
    page.get_by_label(live_event.session_titles[1]).check()
    assert menu.is_visible()
    page.get_by_label("Cluster member number (optional)").fill("VP-2026")
    menu.get_by_label("Vegetarian").check()
    page.locator(f'.question[data-question="{questions["lunch"]}"]').get_by_label("Yes").check()
    page.get_by_label("I agree that my data is processed").check()
    page.get_by_role("button", name="Register").click()
    page.wait_for_url("**/r/**")

    app = live_server.app
    with app.extensions["db"].sessionmaker() as dbs:
        registration = dbs.scalars(
            select(Registration).where(
                Registration.event_id == live_event.id,
                Registration.email_key == email_key("ada.questions@example.org"),
            )
        ).one()
        assert answers_of(dbs, [registration.id])[registration.id] == {
            questions["lunch"]: ["yes"],
            questions["member"]: ["VP-2026"],
            questions["menu"]: ["Vegetarian"],
        }
