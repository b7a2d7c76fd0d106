"""The door screen in a real browser: a door account logs in, a scanner's keystrokes
check people in, and the result fills the screen (green, amber, red)."""

from __future__ import annotations

import base64
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import delete, func, select

from tracker.auth.services import create_user
from tracker.models import (
    CheckIn,
    Event,
    OrganisationType,
    RegistrationStatus,
    Role,
    Session,
    User,
)
from tracker.registration.services import RegistrationData, register

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture skips, or fails where a browser is required
    expect = None

if TYPE_CHECKING:
    from .conftest import LiveEvent, LiveServer

pytestmark = pytest.mark.e2e

PASSWORD = "door staff password 2026"
PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1280, "height": 800}


@dataclass
class Person:
    id: int
    name: str
    organisation: str
    code: str


@dataclass
class Door:
    email: str
    people: list[Person]


@pytest.fixture(scope="module")
def door(live_server: LiveServer, live_event: LiveEvent) -> Iterator[Door]:
    """A door account of the event, three confirmed people and a waitlisted one,
    committed for real."""
    app = live_server.app
    database = app.extensions["db"]
    email = f"door-{secrets.token_hex(4)}@example.org"
    with app.app_context(), database.sessionmaker.begin() as dbs:
        event = dbs.get(Event, live_event.id)
        user = create_user(dbs, email, PASSWORD, Role.DOOR, [event])
        user_id = user.id
        people = []
        for first, last, organisation, type_ in [
            ("Hélène", "Marchand", "Vegepolys", OrganisationType.CLUSTER),
            ("Karim", "Benali", "Ministère de l’Économie", OrganisationType.MINISTRY),
            ("Sophie", "Le Goff", "Région Bretagne", OrganisationType.REGION),
        ]:
            registration = register(
                dbs,
                event,
                RegistrationData(
                    first_name=first,
                    last_name=last,
                    email=f"{first.lower()}.{secrets.token_hex(3)}@example.org",
                    organisation=organisation,
                    organisation_type=type_,
                    session_ids=[event.sessions[1].id],
                    consent=True,
                    locale="en",
                ),
            )
            people.append(
                Person(registration.id, f"{first} {last}", organisation, registration.checkin_code)
            )
        waiting = register(
            dbs,
            event,
            RegistrationData(
                first_name="Paul",
                last_name="Attente",
                email=f"paul.{secrets.token_hex(3)}@example.org",
                organisation="Vegepolys",
                organisation_type=OrganisationType.CLUSTER,
                consent=True,
                locale="en",
            ),
        )
        waiting.status = RegistrationStatus.WAITLISTED
        people.append(Person(waiting.id, "Paul Attente", "Vegepolys", waiting.checkin_code))
    try:
        yield Door(email, people)
    finally:
        with database.sessionmaker.begin() as dbs:
            dbs.execute(delete(User).where(User.id == user_id))


def checkins_of(live_server: LiveServer, person: Person) -> int:
    with live_server.app.extensions["db"].sessionmaker() as dbs:
        return dbs.scalar(
            select(func.count()).select_from(CheckIn).where(CheckIn.registration_id == person.id)
        )


def open_door(page: Any, live_server: LiveServer, event: LiveEvent, door: Door) -> None:
    """Log in through /login, which sends the browser back to the door screen."""
    page.goto(live_server(f"/events/{event.slug}/door"))
    page.wait_for_url(re.compile(r"/login\?next="))
    page.locator("input[name=email]").fill(door.email)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("form.login button[type=submit]").click()
    page.wait_for_url(f"**/events/{event.slug}/door")
    expect(page.locator("#door-input")).to_be_focused()


def scan(page: Any, code: str) -> None:
    """What a keyboard-wedge scanner does: the characters, fast, then Enter."""
    page.keyboard.type(code)
    page.keyboard.press("Enter")


def random_code() -> str:
    return base64.b32encode(secrets.token_bytes(16)).decode("ascii").rstrip("=")


@pytest.mark.parametrize("viewport", [PHONE, LAPTOP], ids=["phone", "laptop"])
def test_scanning_a_badge_shows_green_then_amber_and_an_unknown_code_red(
    browser: Any,
    live_server: LiveServer,
    live_event: LiveEvent,
    door: Door,
    screenshots: Path,
    viewport: dict[str, int],
) -> None:
    size = "phone" if viewport is PHONE else "laptop"
    person = door.people[0] if size == "phone" else door.people[1]
    context = browser.new_context(locale="en-GB", viewport=viewport)
    page = context.new_page()
    try:
        open_door(page, live_server, live_event, door)
        page.locator("#door-name").fill(f"Main entrance ({size})")
        page.locator("#door-name").press("Enter")
        expect(page.locator("#door-input")).to_be_focused()
        page.screenshot(path=screenshots / f"door-{size}.png")

        result = page.locator("#door-result")
        scan(page, person.code)
        expect(result).to_be_visible()
        expect(result).to_have_attribute("data-result", "ok")
        expect(result.locator(".door-result-title")).to_have_text("Checked in")
        expect(result.locator(".door-result-name")).to_have_text(person.name)
        expect(result.locator(".door-result-org")).to_contain_text(person.organisation)
        expect(result.locator(".door-result-sessions")).to_contain_text(
            live_event.session_titles[1]
        )
        expect(result).to_have_css("background-color", "rgb(20, 122, 60)")
        expect(page.locator("#door-announce")).to_contain_text(person.name)
        expect(page.locator("#door-input")).to_be_focused()  # ready for the next scan
        page.screenshot(path=screenshots / f"door-{size}-green.png")
        assert checkins_of(live_server, person) == 1

        # The same badge again: amber, with when, where and by whom.
        scan(page, person.code)
        expect(result).to_have_attribute("data-result", "already_checked_in")
        expect(result.locator(".door-result-title")).to_have_text("Already checked in")
        expect(result.locator(".door-result-name")).to_have_text(person.name)
        detail = result.locator(".door-result-detail")
        expect(detail).to_contain_text(f"door “Main entrance ({size})”")
        expect(detail).to_contain_text(f"by {door.email}")
        expect(detail).to_contain_text(":")  # the time, in the event's time zone
        expect(result).to_have_css("background-color", "rgb(255, 182, 39)")
        page.screenshot(path=screenshots / f"door-{size}-amber.png")
        assert checkins_of(live_server, person) == 1

        # A code that is nobody's: red.
        scan(page, random_code())
        expect(result).to_have_attribute("data-result", "unknown")
        expect(result.locator(".door-result-title")).to_have_text("Unknown code")
        expect(result).to_have_css("background-color", "rgb(197, 5, 0)")
        page.screenshot(path=screenshots / f"door-{size}-red.png")

        # Someone on the waitlist: red too, with its own words.
        scan(page, door.people[3].code)
        expect(result).to_have_attribute("data-result", "waitlisted")
        expect(result.locator(".door-result-title")).to_have_text("On the waitlist: not confirmed")
        expect(result.locator(".door-result-name")).to_have_text("Paul Attente")
        expect(result).to_have_css("background-color", "rgb(197, 5, 0)")
        if size == "phone":
            page.screenshot(path=screenshots / f"door-{size}-waitlisted.png")
        assert checkins_of(live_server, door.people[3]) == 0

        # A tap puts the screen back, with the counter that moved.
        result.click()
        expect(result).to_be_hidden()
        entrance = page.locator('.counter[data-scope=""] [data-present]')
        expect(entrance).not_to_have_text("0")
    finally:
        context.close()


def test_search_by_name_then_enter_checks_in_and_undo_takes_it_back(
    page: Any, live_server: LiveServer, live_event: LiveEvent, door: Door, screenshots: Path
) -> None:
    person = door.people[2]
    open_door(page, live_server, live_event, door)
    page.keyboard.type("le goff breta")
    rows = page.locator("#door-results li")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(person.name)
    expect(rows.first).to_contain_text("Région Bretagne")
    page.screenshot(path=screenshots / "door-search.png")

    page.keyboard.press("Enter")  # the only match
    result = page.locator("#door-result")
    expect(result).to_have_attribute("data-result", "ok")
    expect(result.locator(".door-result-name")).to_have_text(person.name)
    assert checkins_of(live_server, person) == 1

    result.locator(".door-undo").click()
    expect(result).to_have_attribute("data-result", "undone")
    expect(result.locator(".door-result-title")).to_have_text("Check-in undone")
    assert checkins_of(live_server, person) == 0

    # Whatever has the focus after a tap, a scanner's keystrokes reach the input.
    result.locator(".door-next").click()
    page.locator("#door-input").evaluate("input => input.blur()")
    scan(page, person.code)
    expect(result).to_have_attribute("data-result", "ok")
    expect(result.locator(".door-result-name")).to_have_text(person.name)
    assert checkins_of(live_server, person) == 1


def test_a_walk_in_is_registered_and_checked_in_from_the_door(
    page: Any, live_server: LiveServer, live_event: LiveEvent, door: Door, screenshots: Path
) -> None:
    page.set_viewport_size(PHONE)
    open_door(page, live_server, live_event, door)
    page.locator("#walk-in summary").click()
    # Sent half-filled: each field says what is missing, and nothing is saved.
    page.get_by_label("Last name").fill("Kerboul")
    page.get_by_role("button", name="Register and check in").click()
    first_name = page.locator("#walk-in .field", has=page.get_by_label("First name"))
    expect(first_name.locator(".error")).to_have_text("This field is required.")
    expect(page.get_by_label("First name")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#organisation_type .error")).to_have_text(
        "Choose the type of your organisation."
    )
    expect(page.locator("#walk-in .has-error")).to_have_count(3)  # names, organisation, type
    expect(page.locator("#door-result")).to_be_hidden()
    page.screenshot(path=screenshots / "door-walk-in-errors.png", full_page=True)

    page.get_by_label("First name").fill("Yann")
    page.get_by_label("Organisation", exact=True).fill("Agence de l’innovation")
    page.locator("#walk-in .pill label", has_text="Agency").click()
    page.screenshot(path=screenshots / "door-walk-in.png", full_page=True)
    page.get_by_role("button", name="Register and check in").click()

    result = page.locator("#door-result")
    expect(result).to_have_attribute("data-result", "ok")
    expect(result.locator(".door-result-title")).to_have_text("Checked in")
    # No e-mail address at the door, given or not (README, "Minimal data at the door").
    expect(result.locator(".door-result-detail")).to_have_text("New walk-in registration")
    expect(result.locator(".door-result-name")).to_have_text("Yann Kerboul")
    expect(result.locator(".door-result-org")).to_contain_text("Agence de l’innovation · Agency")
    page.screenshot(path=screenshots / "door-walk-in-green.png")

    # Found by the search afterwards, checked in.
    result.click()
    page.locator("#door-input").fill("kerboul")
    expect(page.locator("#door-results li")).to_contain_text("checked in")


def qr_video(path: Path, code: str, width: int = 640, height: int = 480) -> Path:
    """A Y4M clip showing the QR code of `code`, for Chromium's fake camera."""
    import segno

    matrix = segno.make(code, error="m", micro=False).matrix
    scale = 8
    size = len(matrix) * scale
    top, left = (height - size) // 2, (width - size) // 2
    luma = bytearray(b"\xeb" * (width * height))  # white paper
    for y, row in enumerate(matrix):
        for x, dark in enumerate(row):
            if dark:
                for dy in range(scale):
                    start = (top + y * scale + dy) * width + left + x * scale
                    luma[start : start + scale] = b"\x10" * scale
    chroma = b"\x80" * (width * height // 2)  # no colour (4:2:0: two quarter planes)
    frame = b"FRAME\n" + bytes(luma) + chroma
    with path.open("wb") as f:
        f.write(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(10):
            f.write(frame)
    return path


def test_the_camera_reads_a_badge_and_checks_the_person_in(
    browser: Any,
    live_server: LiveServer,
    live_event: LiveEvent,
    door: Door,
    screenshots: Path,
    tmp_path: Path,
) -> None:
    from .conftest import CHROMIUM, CHROMIUM_ARGS

    # A fourth person, so that this test does not depend on the others' check-ins.
    app = live_server.app
    with app.app_context(), app.extensions["db"].sessionmaker.begin() as dbs:
        registration = register(
            dbs,
            dbs.get(Event, live_event.id),
            RegistrationData(
                first_name="Nadia",
                last_name="Rousseau",
                email=f"nadia.{secrets.token_hex(3)}@example.org",
                organisation="Bpifrance",
                organisation_type=OrganisationType.AGENCY,
                consent=True,
                locale="en",
            ),
        )
        person = Person(registration.id, "Nadia Rousseau", "Bpifrance", registration.checkin_code)

    clip = qr_video(tmp_path / "badge.y4m", person.code)
    camera_browser = browser.browser_type.launch(
        executable_path=str(CHROMIUM),
        headless=True,
        args=[
            *CHROMIUM_ARGS,
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={clip}",
        ],
    )
    try:
        context = camera_browser.new_context(locale="en-GB", viewport=PHONE)
        context.grant_permissions(["camera"], origin=live_server.url)
        page = context.new_page()
        open_door(page, live_server, live_event, door)
        page.locator("#door-camera").click()
        result = page.locator("#door-result")
        expect(result).to_have_attribute("data-result", "ok")
        expect(result.locator(".door-result-name")).to_have_text(person.name)
        page.screenshot(path=screenshots / "door-camera-green.png")
        assert checkins_of(live_server, person) == 1

        # The badge is still in front of the lens: a tap shows the camera again, and the
        # same badge is not read twice in a row.
        result.click()
        expect(page.locator("#door-camera-panel")).to_be_visible()
        page.screenshot(path=screenshots / "door-camera.png")
        page.wait_for_timeout(1000)
        expect(result).to_be_hidden()
        page.locator("#door-camera-close").click()
        expect(page.locator("#door-camera-panel")).to_be_hidden()
        assert checkins_of(live_server, person) == 1
    finally:
        camera_browser.close()


# --- a phone in one hand ------------------------------------------------------------------

SMALL_PHONE = {"width": 360, "height": 740}
LONG_FIRST = "Marie-Clémentine"
LONG_LAST = "de La Tour d’Auvergne-Lauraguais"
LONG_ORGANISATION = (
    "Direction régionale de l’économie, de l’emploi, du travail et des solidarités "
    "d’Auvergne-Rhône-Alpes"
)
WORDS = {
    "en": {"undo": "Undo check-in", "badge": "Print badge", "next": "Next"},
    "fr": {"undo": "Annuler l’arrivée", "badge": "Imprimer le badge", "next": "Suivant"},
}


def add_person(
    live_server: LiveServer,
    live_event: LiveEvent,
    first: str,
    last: str,
    organisation: str,
    *,
    session_index: int | None = None,
) -> Person:
    """A confirmed person of the event, committed (for a test that must not depend on
    what the others did to the module's people)."""
    app = live_server.app
    with app.app_context(), app.extensions["db"].sessionmaker.begin() as dbs:
        event = dbs.get(Event, live_event.id)
        registration = register(
            dbs,
            event,
            RegistrationData(
                first_name=first,
                last_name=last,
                email=f"p.{secrets.token_hex(4)}@example.org",
                organisation=organisation,
                organisation_type=OrganisationType.REGION,
                session_ids=[] if session_index is None else [event.sessions[session_index].id],
                consent=True,
                locale="en",
            ),
        )
        return Person(registration.id, f"{first} {last}", organisation, registration.checkin_code)


def session_checkins_of(live_server: LiveServer, person: Person, session_title: str) -> int:
    with live_server.app.extensions["db"].sessionmaker() as dbs:
        return dbs.scalar(
            select(func.count())
            .select_from(CheckIn)
            .join(Session, Session.id == CheckIn.session_id)
            .where(CheckIn.registration_id == person.id, Session.title == session_title)
        )


def assert_no_sideways_scroll(page: Any) -> None:
    width, viewport = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width <= viewport, f"the page is {width} px wide in a {viewport} px viewport"


def assert_on_screen_and_big_enough(page: Any, button: Any, viewport: dict[str, int]) -> None:
    button.scroll_into_view_if_needed()
    box = button.bounding_box()
    assert box is not None, "the button is not shown"
    name = button.inner_text()
    assert box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"], (name, box)
    assert box["y"] >= 0 and box["y"] + box["height"] <= viewport["height"], (name, box)
    assert box["width"] >= 44 and box["height"] >= 44, (name, box)


@pytest.mark.parametrize("language", ["fr", "en"])
@pytest.mark.parametrize(
    "viewport", [SMALL_PHONE, PHONE, LAPTOP], ids=["360x740", "390x844", "1280x800"]
)
def test_the_result_and_its_buttons_fit_a_phone_with_a_long_name(
    browser: Any,
    live_server: LiveServer,
    live_event: LiveEvent,
    door: Door,
    screenshots: Path,
    viewport: dict[str, int],
    language: str,
) -> None:
    person = add_person(live_server, live_event, LONG_FIRST, LONG_LAST, LONG_ORGANISATION)
    size = f"{viewport['width']}x{viewport['height']}"
    context = browser.new_context(
        locale="fr-FR" if language == "fr" else "en-GB", viewport=viewport
    )
    page = context.new_page()
    try:
        open_door(page, live_server, live_event, door)
        assert_no_sideways_scroll(page)
        page.screenshot(path=screenshots / f"door-{size}-{language}.png")

        scan(page, person.code)
        result = page.locator("#door-result")
        expect(result).to_have_attribute("data-result", "ok")
        expect(result.locator(".door-result-name")).to_have_text(person.name)
        page.screenshot(path=screenshots / f"door-{size}-{language}-result.png")
        assert_no_sideways_scroll(page)
        # Long words wrap inside the screen: nothing is cut.
        for part in (".door-result-name", ".door-result-org"):
            overflow = result.locator(part).evaluate("e => e.scrollWidth - e.clientWidth")
            assert overflow <= 0, part
        words = WORDS[language]
        for selector, label in [
            (".door-undo", words["undo"]),
            (".door-badge", words["badge"]),
            (".door-next", words["next"]),
        ]:
            button = result.locator(selector)
            expect(button).to_be_visible()
            expect(button).to_have_text(label)
            assert_on_screen_and_big_enough(page, button, viewport)

        result.locator(".door-undo").click()
        expect(result).to_have_attribute("data-result", "undone")
        assert checkins_of(live_server, person) == 0
    finally:
        context.close()


@pytest.mark.parametrize("viewport", [SMALL_PHONE, LAPTOP], ids=["360x740", "1280x800"])
def test_in_a_session_someone_not_registered_for_it_gets_amber_and_can_be_let_in(
    browser: Any,
    live_server: LiveServer,
    live_event: LiveEvent,
    door: Door,
    screenshots: Path,
    viewport: dict[str, int],
) -> None:
    plenary = live_event.session_titles[0]
    person = add_person(
        live_server, live_event, "Océane", "Le Bihan", "Région Bretagne", session_index=1
    )
    registered = add_person(
        live_server, live_event, "Bruno", "Carré", "Région Bretagne", session_index=0
    )
    size = f"{viewport['width']}x{viewport['height']}"
    context = browser.new_context(locale="en-GB", viewport=viewport)
    page = context.new_page()
    try:
        open_door(page, live_server, live_event, door)
        page.locator("#door-mode").select_option(label=plenary)
        result = page.locator("#door-result")

        # Registered for the plenary: green, as always.
        scan(page, registered.code)
        expect(result).to_have_attribute("data-result", "ok")
        result.locator(".door-next").click()
        expect(result).to_be_hidden()

        # Registered for another session only: amber, and nothing recorded yet.
        page.locator("#door-input").focus()
        scan(page, person.code)
        expect(result).to_have_attribute("data-result", "not_registered")
        expect(result.locator(".door-result-title")).to_have_text("Not registered for this session")
        expect(result.locator(".door-result-name")).to_have_text(person.name)
        expect(result.locator(".door-result-sessions")).to_contain_text(
            live_event.session_titles[1]
        )
        expect(result).to_have_css("background-color", "rgb(255, 182, 39)")
        expect(result.locator(".door-undo")).to_be_hidden()
        anyway = result.locator(".door-anyway")
        expect(anyway).to_have_text("Check in anyway")
        assert_on_screen_and_big_enough(page, anyway, viewport)
        assert_on_screen_and_big_enough(page, result.locator(".door-next"), viewport)
        assert_no_sideways_scroll(page)
        page.screenshot(path=screenshots / f"door-{size}-not-registered.png")
        assert session_checkins_of(live_server, person, plenary) == 0

        # Let in anyway: green, counted once.
        anyway.click()
        expect(result).to_have_attribute("data-result", "ok")
        expect(result.locator(".door-result-detail")).to_contain_text(
            "Not registered for this session"
        )
        expect(result).to_have_css("background-color", "rgb(20, 122, 60)")
        assert session_checkins_of(live_server, person, plenary) == 1

        # Scanned again: already checked in there (amber, with its own words).
        page.locator("#door-input").focus()
        scan(page, person.code)
        expect(result).to_have_attribute("data-result", "already_checked_in")
        assert session_checkins_of(live_server, person, plenary) == 1
    finally:
        context.close()
