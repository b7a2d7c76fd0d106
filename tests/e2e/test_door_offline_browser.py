"""The door through a network cut, in a real browser: two doors offline at once, a
reload without network, the queue drained with its nonces once the network is back, a
cancellation reaching the door, a lost answer sent again, and nothing sensitive kept
in the browser's storage."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import delete, func, select

from tracker.auth.services import create_user
from tracker.checkin.conflicts import conflicts
from tracker.models import (
    CheckIn,
    Event,
    OrganisationType,
    Registration,
    Role,
    ScanLog,
    User,
)
from tracker.registration.services import RegistrationData, cancel_registration, register

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture skips, or fails where a browser is required
    expect = None

if TYPE_CHECKING:
    from .conftest import LiveEvent, LiveServer

pytestmark = pytest.mark.e2e

PASSWORD = "door staff password 2026"
OWN = 80  # people only one door sees
SHARED = 20  # people who go through both doors


@dataclass
class Person:
    id: int
    name: str
    code: str
    email: str


@dataclass
class Crowd:
    doors: list[str]  # the two door accounts' e-mails
    people: list[Person]

    def of_door(self, n: int) -> list[Person]:
        """The 100 people door n scans: its own 80 and the 20 shared ones."""
        return self.people[n * OWN : (n + 1) * OWN] + self.shared

    @property
    def shared(self) -> list[Person]:
        return self.people[2 * OWN : 2 * OWN + SHARED]

    @property
    def others(self) -> list[Person]:
        """People no door scans in the big test, for the smaller ones."""
        return self.people[2 * OWN + SHARED :]


@pytest.fixture(scope="module")
def crowd(live_server: LiveServer, live_event: LiveEvent) -> Iterator[Crowd]:
    app = live_server.app
    database = app.extensions["db"]
    doors = [f"door-{n}-{secrets.token_hex(4)}@example.org" for n in range(2)]
    with app.app_context(), database.sessionmaker.begin() as dbs:
        event = dbs.get(Event, live_event.id)
        event.capacity = None
        for email in doors:
            create_user(dbs, email, PASSWORD, Role.DOOR, [event])
        people = []
        for n in range(2 * OWN + SHARED + 4):
            email = f"guest{n}.{secrets.token_hex(3)}@example.org"
            r = register(
                dbs,
                event,
                RegistrationData(
                    first_name="Guest",
                    last_name=f"Offline {n:03d}",
                    email=email,
                    organisation="Vegepolys",
                    organisation_type=OrganisationType.CLUSTER,
                    consent=True,
                    locale="en",
                ),
            )
            people.append(Person(r.id, f"Guest Offline {n:03d}", r.checkin_code, email))
    try:
        yield Crowd(doors, people)
    finally:
        with database.sessionmaker.begin() as dbs:
            dbs.execute(delete(User).where(User.email_key.in_(doors)))


def open_door(context: Any, live_server: LiveServer, event: LiveEvent, email: str) -> Any:
    page = context.new_page()
    page.goto(live_server(f"/events/{event.slug}/door"))
    page.wait_for_url(re.compile(r"/login\?next="))
    page.locator("input[name=email]").fill(email)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("form.login button[type=submit]").click()
    page.wait_for_url(f"**/events/{event.slug}/door")
    expect(page.locator("#door-input")).to_be_focused()
    return page


def ready_offline(page: Any, door_name: str) -> None:
    """Named, its snapshot pulled, its service worker in control of the page."""
    page.locator("#door-name").fill(door_name)
    page.locator("#door-name").press("Enter")
    expect(page.locator("#door-sync")).to_have_attribute("data-synced", "true")
    # (evaluated, not polled: the page's Content-Security-Policy forbids eval)
    assert page.evaluate(
        """async () => {
             await navigator.serviceWorker.ready;
             if (!navigator.serviceWorker.controller) {
               await new Promise((resolve) => navigator.serviceWorker.addEventListener(
                 "controllerchange", resolve, { once: true }
               ));
             }
             return true;
           }"""
    )


def scan(page: Any, code: str) -> None:
    page.keyboard.type(code)
    page.keyboard.press("Enter")


def scan_and_see(page: Any, person: Person, result: str = "ok") -> None:
    scan(page, person.code)
    shown = page.locator("#door-result")
    expect(shown.locator(".door-result-name")).to_have_text(person.name)
    expect(shown).to_have_attribute("data-result", result)


def storage_dump(page: Any) -> str:
    """Everything the door keeps in IndexedDB and localStorage, as JSON text."""
    return page.evaluate(
        """async () => {
          const out = { local: Object.assign({}, localStorage), idb: {} };
          const dbs = await indexedDB.databases();
          for (const { name } of dbs) {
            const db = await new Promise((ok, ko) => {
              const r = indexedDB.open(name);
              r.onsuccess = () => ok(r.result);
              r.onerror = () => ko(r.error);
            });
            for (const store of Array.from(db.objectStoreNames)) {
              out.idb[name + "/" + store] = await new Promise((ok) => {
                const r = db.transaction(store).objectStore(store).getAll();
                r.onsuccess = () => ok(r.result);
              });
            }
            db.close();
          }
          return JSON.stringify(out);
        }"""
    )


def count(live_server: LiveServer, *where: Any, model: Any = CheckIn) -> int:
    with live_server.app.extensions["db"].sessionmaker() as dbs:
        return dbs.scalar(select(func.count()).select_from(model).where(*where))


def test_two_doors_offline_then_back_online_count_each_person_once(
    browser: Any, live_server: LiveServer, live_event: LiveEvent, crowd: Crowd
) -> None:
    contexts = [
        browser.new_context(locale="en-GB", viewport={"width": 1000, "height": 900})
        for _ in range(2)
    ]
    try:
        pages = []
        for n, context in enumerate(contexts):
            page = open_door(context, live_server, live_event, crowd.doors[n])
            ready_offline(page, f"Door {'AB'[n]}")
            pages.append(page)
        for context in contexts:
            context.set_offline(True)
        for page in pages:
            expect(page.locator("#door-sync")).to_have_attribute("data-state", "offline")
            expect(page.locator("#door-sync")).to_contain_text("Offline since")

        # Door A lets its 100 in, then door B its own 100: the 20 shared people were let
        # in by door A first, by the clock, and door A's check-ins of them stand.
        a_people, b_people = crowd.of_door(0), crowd.of_door(1)
        for n, person in enumerate(a_people):
            if n == 50:
                # A reload without network: the page, its scripts, the snapshot and the
                # queue come back from the browser.
                pages[0].reload()
                expect(pages[0].locator("#door-input")).to_be_focused()
                expect(pages[0].locator("#door-sync")).to_have_attribute("data-state", "offline")
                expect(pages[0].locator("#door-sync")).to_have_attribute("data-waiting", "50")
                # Someone let in before the reload is still known as let in here.
                scan_and_see(pages[0], a_people[0], "already_checked_in")
            scan_and_see(pages[0], person)
        for person in b_people:
            scan_and_see(pages[1], person)
        # The search answers offline too, from the snapshot.
        pages[1].locator("#door-input").fill("Offline 003")
        expect(pages[1].locator("#door-results li")).to_have_count(1)
        pages[1].locator("#door-input").fill("")

        for page in pages:
            expect(page.locator("#door-sync")).to_have_attribute("data-waiting", "100")
            expect(page.locator("#door-sync")).to_contain_text("100 check-ins waiting")
        assert count(live_server, CheckIn.event_id == live_event.id) == 0

        # Nothing the door kept holds a check-in code or an e-mail address.
        dump = storage_dump(pages[0])
        assert "tracker-door/queue" in dump and "tracker-door/snapshots" in dump
        for person in crowd.people:
            assert person.code not in dump
            assert person.email not in dump
        assert "@" not in dump

        for context in contexts:
            context.set_offline(False)
        for page in pages:
            expect(page.locator("#door-sync")).to_have_attribute(
                "data-waiting", "0", timeout=60_000
            )
            expect(page.locator("#door-sync")).to_have_attribute("data-state", "online")
            expect(page.locator("#door-refused")).to_be_hidden()

        everyone = {p.id for p in crowd.people[: 2 * OWN + SHARED]}
        entrance = [CheckIn.event_id == live_event.id, CheckIn.scope == 0]
        assert count(live_server, *entrance) == len(everyone) == 180
        with live_server.app.extensions["db"].sessionmaker() as dbs:
            rows = dbs.execute(select(CheckIn.registration_id, CheckIn.door).where(*entrance))
            doors = dict(rows.all())
            assert set(doors) == everyone
            for person in crowd.shared:
                assert doors[person.id] == "Door A"  # the first by the clock
            found = conflicts(dbs, dbs.get(Event, live_event.id))
            assert len(found) == SHARED
            assert {c.registration_id for c in found} == {p.id for p in crowd.shared}
            assert all((c.kept_door, c.duplicate_door) == ("Door A", "Door B") for c in found)
            assert all(c.kept_at < c.duplicate_at for c in found)
            # Every queued scan went once, with its nonce.
            sent = dbs.scalar(
                select(func.count())
                .select_from(ScanLog)
                .where(ScanLog.event_id == live_event.id, ScanLog.scanned_at.is_not(None))
            )
            assert sent == 200
        # The counters agree.
        counter = pages[0].locator('.counter[data-scope=""] [data-present]')
        expect(counter).to_have_text("180", timeout=15_000)
    finally:
        for context in contexts:
            context.close()


def test_a_cancellation_reaches_the_door_and_its_badge_shows_red_online_and_offline(
    browser: Any, live_server: LiveServer, live_event: LiveEvent, crowd: Crowd
) -> None:
    person = crowd.others[0]
    context = browser.new_context(locale="en-GB", viewport={"width": 390, "height": 844})
    try:
        page = open_door(context, live_server, live_event, crowd.doors[0])
        ready_offline(page, "Door C")
        app = live_server.app
        with app.app_context(), app.extensions["db"].sessionmaker.begin() as dbs:
            cancel_registration(dbs, dbs.get(Registration, person.id))
        # Within 10 seconds the door's snapshot knows (read from IndexedDB, in the page).
        known = page.evaluate(
            """async (id) => {
                 const cancelled = () => new Promise((resolve) => {
                   const r = indexedDB.open("tracker-door");
                   r.onsuccess = () => {
                     const q = r.result.transaction("snapshots").objectStore("snapshots").getAll();
                     q.onsuccess = () => {
                       const s = q.result[0];
                       r.result.close();
                       resolve(!!s && !!s.people[id] && s.people[id].status === "cancelled");
                     };
                   };
                   r.onerror = () => resolve(false);
                 });
                 const started = performance.now();
                 while (performance.now() - started < 10000) {
                   if (await cancelled()) return performance.now() - started;
                   await new Promise((resolve) => setTimeout(resolve, 250));
                 }
                 return null;
               }""",
            person.id,
        )
        assert known is not None, "the cancellation did not reach the door within 10 s"
        scan_and_see(page, person, "cancelled")
        expect(page.locator("#door-result")).to_have_attribute("data-offline", "false")
        context.set_offline(True)
        expect(page.locator("#door-sync")).to_have_attribute("data-state", "offline")
        page.locator("#door-result").click()
        scan_and_see(page, person, "cancelled")
        expect(page.locator("#door-result")).to_have_attribute("data-offline", "true")
        expect(page.locator(".door-result-title")).to_have_text("Registration cancelled")
        expect(page.locator("#door-sync")).to_have_attribute("data-waiting", "0")
    finally:
        context.close()
    assert count(live_server, CheckIn.registration_id == person.id) == 0


def test_a_check_in_whose_answer_is_lost_is_sent_again_with_its_nonce_and_counts_once(
    browser: Any, live_server: LiveServer, live_event: LiveEvent, crowd: Crowd
) -> None:
    person = crowd.others[1]
    context = browser.new_context(locale="en-GB", viewport={"width": 1000, "height": 900})
    nonces: list[str] = []

    def lose_the_first_answer(route: Any) -> None:
        nonces.append(json.loads(route.request.post_data)["nonce"])
        if len(nonces) == 1:
            route.fetch()  # the server records the check-in...
            route.abort("timedout")  # ...and its answer never comes back
        else:
            route.continue_()

    try:
        page = open_door(context, live_server, live_event, crowd.doors[1])
        ready_offline(page, "Door D")
        page.route("**/api/v1/events/*/checkins", lose_the_first_answer)
        scan_and_see(page, person, "ok")
        expect(page.locator(".door-result-title")).to_have_text("Checked in")
    finally:
        context.close()
    assert len(nonces) == 2 and nonces[0] == nonces[1]
    assert count(live_server, CheckIn.registration_id == person.id) == 1
    assert count(live_server, ScanLog.nonce == nonces[0], model=ScanLog) == 1


def test_not_arrived_yet_and_the_badge_printer_work_offline_and_logout_wipes_the_door(
    browser: Any, live_server: LiveServer, live_event: LiveEvent, crowd: Crowd
) -> None:
    person = crowd.others[2]
    context = browser.new_context(locale="en-GB", viewport={"width": 390, "height": 844})
    try:
        page = open_door(context, live_server, live_event, crowd.doors[0])
        ready_offline(page, "Door E")
        # The badge printer is this device's choice, kept across a reload.
        page.locator("#door-layout").select_option("cr80")
        page.reload()
        expect(page.locator("#door-layout")).to_have_value("cr80")
        expect(page.locator('.door-badge-form input[name="layout"]')).to_have_value("cr80")
        expect(page.locator("#door-sync")).to_have_attribute("data-synced", "true")

        context.set_offline(True)
        expect(page.locator("#door-sync")).to_have_attribute("data-state", "offline")
        page.locator("#door-not-arrived summary").click()
        page.locator("#door-not-arrived-filter").fill(person.name.split()[-1])
        listed = page.locator("#door-not-arrived-list li")
        expect(listed).to_have_count(1)
        expect(listed).to_contain_text(person.name)
        listed.locator("button").click()
        expect(page.locator("#door-result")).to_have_attribute("data-result", "ok")
        expect(page.locator("#door-result")).to_have_attribute("data-offline", "true")
        page.locator("#door-result").click()
        expect(listed).to_have_count(0)  # arrived now, even before the server knows
        expect(page.locator("#door-sync")).to_have_attribute("data-waiting", "1")

        context.set_offline(False)
        expect(page.locator("#door-sync")).to_have_attribute("data-waiting", "0")
        assert count(live_server, CheckIn.registration_id == person.id) == 1

        # Logging out wipes what the door kept.
        assert "tracker-door/snapshots" in storage_dump(page)
        page.locator("form.logout button").click()
        page.wait_for_url(re.compile(r"/login|/$"))
        assert page.evaluate(
            "async () => (await indexedDB.databases()).every((d) => d.name !== 'tracker-door')"
        )
        assert page.evaluate(
            "async () => (await caches.keys()).every((k) => !k.startsWith('tracker-door'))"
        )
    finally:
        context.close()
