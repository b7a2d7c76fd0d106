"""Every page type on a phone and on a laptop, in French and in English: nothing scrolls
sideways (the document is no wider than the window) and axe-core finds no violation of
any impact.

axe-core is vendored in tests/e2e/vendor/axe-core/ and injected into the page; the
contexts bypass the app's Content-Security-Policy (script-src 'self') for that script
only, the pages themselves are served and rendered as in production. One browser
context per role (visitor, attendee, organiser, admin, door staff) is logged in once and
reused for every page, language and size.
"""

from __future__ import annotations

import base64
import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import pytest
from sqlalchemy import delete

from tracker.auth.services import create_user
from tracker.i18n import LANG_COOKIE
from tracker.invitations.services import InviteeData, create_invitation
from tracker.models import (
    Download,
    Event,
    OrganisationType,
    OutgoingMail,
    RegistrationStatus,
    Role,
    User,
)
from tracker.questions.services import QuestionSpec, add_question
from tracker.registration.delegations import Contact, Person, register_delegation
from tracker.registration.services import (
    RegistrationData,
    cancel_registration,
    edit_registration,
    register,
)

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture skips, or fails where a browser is required
    expect = None

if TYPE_CHECKING:
    from .conftest import LiveEvent, LiveServer

pytestmark = pytest.mark.e2e

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
PASSWORD = "every page password 2026"
PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1280, "height": 800}
NARROW = {"width": 360, "height": 740}
SIZES = {"390x844": PHONE, "1280x800": LAPTOP}
LANGUAGES = ["fr", "en"]
# Long enough to break a layout that does not wrap.
LONG_EMAIL = "dominique-marie.de-la-fontaine-saint-exupery@ministere-economie-finances.example.fr"
LONG_ORGANISATION = "Agence nationale de la cohésion des territoires et de l’aménagement"


@dataclass
class Site:
    """What the pages show: accounts, and registrations in each status."""

    organiser: str
    admin: str
    admin_id: int
    door: str
    confirmed: str  # manage tokens
    waitlisted: str
    cancelled: str
    edited_id: int  # a registration with a history
    door_codes: list[str] = field(default_factory=list)  # one per door result shown
    downloads: dict[str, str] = field(default_factory=dict)  # state: token
    delegation: str = ""  # a delegation's token
    invitation: str = ""  # an invitation's token
    question_id: int = 0  # one of the event's own questions


def person(first: str, last: str, email: str, organisation: str, **more: Any) -> RegistrationData:
    return RegistrationData(
        first_name=first,
        last_name=last,
        email=email,
        organisation=organisation,
        organisation_type=OrganisationType.AGENCY,
        consent=True,
        locale="fr",
        **more,
    )


@pytest.fixture(scope="module")
def site(live_server: LiveServer, live_event: LiveEvent) -> Iterator[Site]:
    app = live_server.app
    database = app.extensions["db"]
    tag = secrets.token_hex(4)
    with app.app_context(), database.sessionmaker.begin() as dbs:
        event = dbs.get(Event, live_event.id)
        organiser = create_user(
            dbs, f"organiser-{tag}@example.org", PASSWORD, Role.ORGANISER, [event]
        )
        admin = create_user(dbs, f"admin-{tag}@example.org", PASSWORD, Role.ADMIN)
        door = create_user(dbs, f"door-{tag}@example.org", PASSWORD, Role.DOOR, [event])
        sessions = [s.id for s in event.sessions[:2]]
        # The event's own questions: every kind, one for a type only, one for a session.
        question = add_question(
            dbs,
            event,
            QuestionSpec("Déjeunerez-vous sur place ?", "yes_no", required=True),
            actor=None,
        )
        for spec in (
            QuestionSpec("Régime alimentaire", "choice", choices=["Aucun", "Végétarien"]),
            QuestionSpec("Besoins d’accessibilité", "long_text"),
            QuestionSpec("Thèmes", "choices", choices=["Export", "Numérique"], types=["agency"]),
            QuestionSpec("Numéro d’adhérent", "text", session_ids=sessions[:1]),
        ):
            add_question(dbs, event, spec, actor=None)
        confirmed = register(
            dbs,
            event,
            person(
                "Marie-Dominique",
                "de La Fontaine-Saint-Exupéry",
                LONG_EMAIL,
                LONG_ORGANISATION,
                session_ids=sessions,
                job_title="Cheffe du bureau de l’internationalisation",
            ),
        )
        edited = register(
            dbs, event, person("Hélène", "Marchand", f"helene.{tag}@example.org", "Vegepolys")
        )
        edit_registration(
            dbs,
            edited,
            person(
                "Hélène",
                "Marchand-Lefèvre",
                f"helene.{tag}@example.org",
                "Vegepolys",
                session_ids=sessions[:1],
                job_title="Chargée de mission",
            ),
            actor=organiser,
        )
        cancelled = register(
            dbs, event, person("Paul", "Annulé", f"paul.{tag}@example.org", "Région Bretagne")
        )
        cancel_registration(dbs, cancelled)
        waitlisted = register(
            dbs, event, person("Jeanne", "Attente", f"jeanne.{tag}@example.org", "Bpifrance")
        )
        waitlisted.status = RegistrationStatus.WAITLISTED
        door_codes = [
            register(
                dbs, event, person("Karim", f"Porte{n}", f"karim{n}.{tag}@example.org", "DGE")
            ).checkin_code
            for n in range(len(LANGUAGES) * len(SIZES))
        ]
        # A badge batch being made by the worker, and one ready (the page, not the file).
        downloads = {
            state: Download(
                token=secrets.token_urlsafe(24),
                event_id=event.id,
                user_id=organiser.id,
                what="badges",
                options={"layout": "a4-8", "locale": "fr"},
                state=state,
                done=done,
                total=125,
                unit="pages",
                filename="badges.pdf" if state == "done" else "",
            )
            for state, done in [("running", 48), ("done", 125)]
        }
        dbs.add_all(downloads.values())
        delegation = register_delegation(
            dbs,
            event,
            Contact(
                "Dominique de La Fontaine",
                f"contact.{tag}@example.org",
                LONG_ORGANISATION,
                OrganisationType.AGENCY,
                consent=True,
            ),
            [
                Person("Marie", "Delegation", f"marie.{tag}@example.org"),
                Person("Luc", "Délégation", f"luc.{tag}@example.org", "Chef de bureau"),
            ],
        ).delegation
        invitation = create_invitation(
            dbs,
            event,
            InviteeData(
                "Marie-Dominique",
                "de La Fontaine-Saint-Exupéry",
                f"invitee.{tag}.{LONG_EMAIL}",
                LONG_ORGANISATION,
                OrganisationType.AGENCY,
                locale="fr",
            ),
            actor=organiser,
        )
        built = Site(
            organiser=organiser.email,
            admin=admin.email,
            admin_id=admin.id,
            door=door.email,
            confirmed=confirmed.manage_token,
            waitlisted=waitlisted.manage_token,
            cancelled=cancelled.manage_token,
            edited_id=edited.id,
            door_codes=door_codes,
            downloads={state: d.token for state, d in downloads.items()},
            delegation=delegation.token,
            invitation=invitation.token,
            question_id=question.id,
        )
        user_ids = [organiser.id, admin.id, door.id]
    try:
        yield built
    finally:
        with database.sessionmaker.begin() as dbs:
            dbs.execute(delete(User).where(User.id.in_(user_ids)))
            # The delegation's summary to its contact belongs to no registration: it
            # would outlive the event in the outbox the other tests count.
            dbs.execute(
                delete(OutgoingMail).where(OutgoingMail.recipient == f"contact.{tag}@example.org")
            )


@pytest.fixture(scope="module")
def pages(
    browser: Any, live_server: LiveServer, live_event: LiveEvent, site: Site
) -> Iterator[dict[str, Any]]:
    """One page per role, its context logged in once."""
    opened: dict[str, Any] = {}
    contexts = []
    for role, email, next_ in [
        ("visitor", None, None),
        ("organiser", site.organiser, "/manage"),
        ("admin", site.admin, "/users"),
        ("door", site.door, f"/events/{live_event.slug}/door"),
    ]:
        context = browser.new_context(locale="en-GB", viewport=LAPTOP, bypass_csp=True)
        context.set_default_timeout(20_000)
        contexts.append(context)
        page = context.new_page()
        if email:
            page.goto(live_server(f"/login?next={next_}"))
            page.locator("input[name=email]").fill(email)
            page.locator("input[name=password]").fill(PASSWORD)
            page.locator("form.login button[type=submit]").click()
            page.wait_for_url(f"**{next_}")
        opened[role] = page
    try:
        yield opened
    finally:
        for context in contexts:
            context.close()


@dataclass
class Case:
    role: str
    path: Callable[[LiveEvent, Site], str]
    then: Callable[[Any, Site, int], None] | None = None  # what the person does next
    status: int = 200


def submit_empty_form(page: Any, site: Site, n: int) -> None:
    page.locator("form button[type=submit]").last.click()
    expect(page.locator(".field.has-error").first).to_be_visible()


def submit_without_csrf(page: Any, site: Site, n: int) -> None:
    """What a stale form leads to: the 400 page."""
    page.evaluate("document.querySelector('input[name=csrf_token]').remove()")
    page.locator("input[name=email]").fill("nobody@example.org")
    page.locator("input[name=password]").fill("not a password")
    with page.expect_navigation() as navigation:
        page.locator("form.login button[type=submit]").click()
    assert navigation.value.status == 400


def preview_an_import(page: Any, site: Site, n: int) -> None:
    csv = (
        "first_name,last_name,email,organisation,organisation_type,job_title,sessions\n"
        f"Camille,Durand,camille.{n}.{secrets.token_hex(3)}@example.org,{LONG_ORGANISATION},agency,,1\n"
        f"Léa,Martin,{LONG_EMAIL},Vegepolys,cluster,Directrice,\n"
        "Bad,Row,not-an-address,Vegepolys,unknown,,\n"
    )
    page.locator("input[type=file]").set_input_files(
        files=[{"name": "list.csv", "mimeType": "text/csv", "buffer": csv.encode()}]
    )
    page.locator("form.organiser-form button[type=submit]").click()
    page.wait_for_load_state()
    expect(page.locator("table").first).to_be_visible()


def show_a_door_result(page: Any, site: Site, n: int) -> None:
    expect(page.locator("#door-input")).to_be_focused()
    page.keyboard.type(site.door_codes[n])
    page.keyboard.press("Enter")
    expect(page.locator("#door-result")).to_be_visible()
    expect(page.locator("#door-result")).to_have_attribute("data-result", "ok")


def preview_a_message(page: Any, site: Site, n: int) -> None:
    page.locator("input[name=subject]").fill("Plan d’accès et horaires de la journée")
    page.locator("textarea[name=body]").fill(
        "Bonjour,\n\nL’accueil ouvre à 8 h 30, bâtiment Colbert, 139 rue de Bercy.\n"
        f"Pour toute question : {LONG_EMAIL}\n\nÀ bientôt."
    )
    page.locator("form button[type=submit]").last.click()
    page.wait_for_load_state()
    expect(page.locator(".mail-preview").first).to_be_visible()


def unknown_path(event: LiveEvent, site: Site) -> str:
    return f"/events/no-such-event-{base64.b32encode(secrets.token_bytes(5)).decode().lower()}"


CASES: dict[str, Case] = {
    # Public
    "event list": Case("visitor", lambda e, s: "/"),
    "event page": Case("visitor", lambda e, s: f"/events/{e.slug}"),
    "registration form": Case("visitor", lambda e, s: f"/events/{e.slug}/register"),
    "registration form with errors": Case(
        "visitor", lambda e, s: f"/events/{e.slug}/register", submit_empty_form
    ),
    "delegation form": Case("visitor", lambda e, s: f"/events/{e.slug}/register/group"),
    "delegation form with errors": Case(
        "visitor", lambda e, s: f"/events/{e.slug}/register/group", submit_empty_form
    ),
    "a delegation's page": Case("visitor", lambda e, s: f"/d/{s.delegation}"),
    "privacy notice": Case("visitor", lambda e, s: "/privacy"),
    "login": Case("visitor", lambda e, s: "/login"),
    # Attendee
    "private page, confirmed": Case("visitor", lambda e, s: f"/r/{s.confirmed}"),
    "private page, waitlisted": Case("visitor", lambda e, s: f"/r/{s.waitlisted}"),
    "private page, cancelled": Case("visitor", lambda e, s: f"/r/{s.cancelled}"),
    "changing a registration": Case("visitor", lambda e, s: f"/r/{s.confirmed}/edit"),
    "cancelling a registration": Case("visitor", lambda e, s: f"/r/{s.confirmed}/cancel"),
    "my data": Case("visitor", lambda e, s: f"/r/{s.confirmed}/data"),
    "erasing a registration": Case("visitor", lambda e, s: f"/r/{s.confirmed}/erase"),
    "an invitation": Case("visitor", lambda e, s: f"/i/{s.invitation}"),
    # Errors
    "404": Case("visitor", unknown_path, status=404),
    "400": Case("visitor", lambda e, s: "/login", submit_without_csrf),
    "403": Case("door", lambda e, s: "/manage", status=403),
    # Organiser
    "my events": Case("organiser", lambda e, s: "/manage"),
    "new event": Case("organiser", lambda e, s: "/events/new"),
    "event settings and sessions": Case("organiser", lambda e, s: f"/events/{e.slug}/edit"),
    "new session": Case("organiser", lambda e, s: f"/events/{e.slug}/sessions/new"),
    "registration questions": Case("organiser", lambda e, s: f"/events/{e.slug}/questions"),
    "new question": Case("organiser", lambda e, s: f"/events/{e.slug}/questions/new"),
    "editing a question": Case(
        "organiser", lambda e, s: f"/events/{e.slug}/questions/{s.question_id}/edit"
    ),
    "deleting a question": Case(
        "organiser", lambda e, s: f"/events/{e.slug}/questions/{s.question_id}/delete"
    ),
    "registrations": Case("organiser", lambda e, s: f"/events/{e.slug}/registrations"),
    "one registration, with its history": Case(
        "organiser", lambda e, s: f"/events/{e.slug}/registrations/{s.edited_id}"
    ),
    "a person's data": Case(
        "organiser", lambda e, s: f"/events/{e.slug}/registrations/{s.edited_id}/data"
    ),
    "a person's registrations": Case(
        "organiser", lambda e, s: f"/manage/people?email={quote(LONG_EMAIL)}"
    ),
    "adding someone": Case("organiser", lambda e, s: f"/events/{e.slug}/registrations/new"),
    "import": Case("organiser", lambda e, s: f"/events/{e.slug}/import"),
    "import preview": Case("organiser", lambda e, s: f"/events/{e.slug}/import", preview_an_import),
    "badges": Case("organiser", lambda e, s: f"/events/{e.slug}/badges"),
    "a download being made": Case(
        "organiser", lambda e, s: f"/events/{e.slug}/downloads/{s.downloads['running']}"
    ),
    "a download ready": Case(
        "organiser", lambda e, s: f"/events/{e.slug}/downloads/{s.downloads['done']}"
    ),
    "invitations": Case("organiser", lambda e, s: f"/events/{e.slug}/invitations"),
    "e-mails": Case("organiser", lambda e, s: f"/events/{e.slug}/mailings"),
    "e-mail preview": Case(
        "organiser", lambda e, s: f"/events/{e.slug}/mailings", preview_a_message
    ),
    # Statistics
    "statistics": Case("organiser", lambda e, s: f"/events/{e.slug}/stats"),
    # Accounts
    "accounts": Case("admin", lambda e, s: "/users"),
    "one account": Case("admin", lambda e, s: f"/users/{s.admin_id}"),
    # Door
    "door screen": Case("door", lambda e, s: f"/events/{e.slug}/door"),
    "door screen, a result shown": Case(
        "door", lambda e, s: f"/events/{e.slug}/door", show_a_door_result
    ),
}

AXE_RESULTS = """async () => {
  const results = await axe.run(document, {resultTypes: ["violations"]});
  return results.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map(n => n.target.join(" ") + " — " + n.failureSummary),
  }));
}"""

OVERFLOW = """() => {
  const width = window.innerWidth;
  const wide = [...document.querySelectorAll("body *")]
    .filter(el => el.getBoundingClientRect().right > width + 0.5)
    .filter(el => !el.closest("[data-overflow-ok]"))
    .slice(0, 5)
    .map(el => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "")
         + (typeof el.className === "string" && el.className
            ? "." + el.className.trim().split(/\\s+/).join(".") : "")
         + " → " + Math.round(el.getBoundingClientRect().right) + "px");
  return {document: document.documentElement.scrollWidth, window: width, wide};
}"""


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("name", CASES)
def test_the_page_fits_the_screen_and_axe_finds_nothing(
    pages: dict[str, Any],
    live_server: LiveServer,
    live_event: LiveEvent,
    site: Site,
    name: str,
    lang: str,
    size: str,
    screenshots: Path,
) -> None:
    case = CASES[name]
    page = pages[case.role]
    page.context.add_cookies([{"name": LANG_COOKIE, "value": lang, "url": live_server.url}])
    page.set_viewport_size(SIZES[size])
    response = page.goto(live_server(case.path(live_event, site)))
    assert response is not None and response.status == case.status
    if case.then:
        n = LANGUAGES.index(lang) * len(SIZES) + list(SIZES).index(size)
        case.then(page, site, n)
    assert page.locator("html").get_attribute("lang") == lang
    page.screenshot(
        path=screenshots / f"{re.sub(r'[^a-z0-9]+', '-', name)}-{lang}-{size}.png", full_page=True
    )

    fits = page.evaluate(OVERFLOW)
    assert fits["document"] <= fits["window"], f"wider than the window: {fits}"
    if SIZES[size] is PHONE:  # and on the narrowest phones in use
        page.set_viewport_size(NARROW)
        fits = page.evaluate(OVERFLOW)
        assert fits["document"] <= fits["window"], f"wider than the window: {fits}"
        page.set_viewport_size(PHONE)

    page.add_script_tag(path=str(AXE))
    violations = page.evaluate(AXE_RESULTS)
    assert violations == [], "\n".join(
        f"{v['impact']} {v['id']}: {v['help']}\n    " + "\n    ".join(v["nodes"])
        for v in violations
    )
