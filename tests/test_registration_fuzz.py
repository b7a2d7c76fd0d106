"""The registration form against whatever people (and robots) send it.

Hypothesis examples share the function-scoped fixtures (one database transaction,
one event), so every example uses a fresh e-mail address and counts what it adds.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from typing import Any
from urllib.parse import quote, urlencode

import hypothesis
import pytest
from email_validator import validate_email
from flask import Flask
from flask_babel import force_locale
from flask_babel import gettext as _
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from markupsafe import escape
from sqlalchemy import func, select
from sqlalchemy.orm import Session as DbSession

from tests.conftest import Outbox, form_data, make_event, make_registration
from tracker.events.services import SessionSpec
from tracker.models import Event, Organisation, OrganisationType, Registration, RegistrationStatus
from tracker.registration.identity import organisation_key

REFUSED_CATEGORIES = ("Cc", "Cs", "Zl", "Zp")
TEXT_FIELDS = ("first_name", "last_name", "email", "organisation", "job_title")
CONTROL_MESSAGE = "Control characters and line breaks are not allowed here."

FUZZ = settings(
    max_examples=75,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

_addresses = itertools.count(1)


def fresh_email() -> str:
    return f"fuzz.{next(_addresses)}@example.org"


def collapsed(value: str) -> str:
    """The reference for clean_name: outer whitespace off, inner runs made one space."""
    return " ".join(value.split())


def error_for(page: str, field: str) -> str:
    match = re.search(rf'<p class="error" id="{field}-error">(.*?)</p>', page, re.S)
    return match.group(1) if match else ""


def count(db: DbSession, event: Event) -> int:
    db.expire_all()
    query = select(func.count(Registration.id)).where(Registration.event_id == event.id)
    return db.scalar(query) or 0


def mail_count(outbox: Outbox) -> int:
    return len(list(outbox.path.glob("*.eml")))


def by_token(db: DbSession, location: str) -> Registration:
    db.expire_all()
    token = location.rstrip("/").rsplit("/", 1)[-1]
    registration = db.scalar(select(Registration).where(Registration.manage_token == token))
    assert registration is not None
    return registration


def post(client: Any, event: Event, data: dict[str, Any]) -> Any:
    return client.post(f"/events/{event.slug}/register", data=data)


@pytest.fixture
def event(db: DbSession) -> Event:
    """One open event with unlimited places (capacity does not matter here)."""
    event = make_event(db)
    db.commit()
    return event


# --- names in any script ---------------------------------------------------------

name_text = st.text(
    alphabet=st.characters(exclude_categories=REFUSED_CATEGORIES), min_size=1, max_size=100
).filter(lambda s: s.strip() != "")


def check_names_kept(
    client: Any, db: DbSession, event: Event, first: str, last: str, organisation: str
) -> None:
    db.expire_all()
    known = db.scalar(
        select(Organisation).where(Organisation.name_key == organisation_key(organisation))
    )
    # An organisation already known under another spelling keeps its first display name.
    expected_organisation = known.name if known is not None else collapsed(organisation)

    response = post(
        client,
        event,
        form_data(
            event, first_name=first, last_name=last, organisation=organisation, email=fresh_email()
        ),
    )

    errors = {f: error_for(response.text, f) for f in ("first_name", "last_name", "organisation")}
    assert response.status_code == 303, errors
    registration = by_token(db, response.headers["Location"])
    assert registration.first_name == collapsed(first)
    assert registration.last_name == collapsed(last)
    assert registration.organisation.name == expected_organisation
    page = client.get(response.headers["Location"]).text
    assert str(escape(registration.first_name)) in page
    assert str(escape(registration.last_name)) in page


@FUZZ
@given(first=name_text, last=name_text, organisation=name_text)
def test_names_in_any_script_are_kept(client, db, event, outbox, first, last, organisation):
    # A name whose key outgrows its column is refused: test_organisation_key_fits_its_column.
    assume(len(organisation_key(organisation)) <= 200)
    check_names_kept(client, db, event, first, last, organisation)


@pytest.mark.parametrize(
    ("first", "last", "organisation"),
    [
        ("Éléonore", "Dupré-Lefèvre", "Végépolys Valley"),
        ("Łukasz", "Żółć", "Województwo Łódzkie"),
        ("小龍", "李", "李小龍 國際交流"),
        ("محمد", "عبد الله", "وزارة الزراعة"),
        ("\u200fשרה", "כהן\u200f", "משרד החקלאות"),  # Hebrew with right-to-left marks
        ("👩\u200d🔬", "Dr 👩🏽\u200d🔬", "Lab 🧪"),  # emoji joined by ZWJ, skin tone
        ("Zoe\u0308", "Mu\u0308ller", "Zoe\u0308 & Co"),  # decomposed, not normalised
        ("  Jean   Pierre ", "de\u00a0la  Fontaine", "  Pôle \u3000 Végétal  "),
        ("A" * 100, "B" * 100, "C" * 200),  # at the length limits
    ],
    ids=["accents", "polish", "cjk", "arabic", "hebrew-rtl", "emoji-zwj", "nfd", "spaces", "max"],
)
def test_names_in_any_script_by_hand(client, db, event, outbox, first, last, organisation):
    check_names_kept(client, db, event, first, last, organisation)


# --- refused values ---------------------------------------------------------------

CONTROL_CHARACTERS = ["\x00", "\x07", "\x1b", "\x7f", "\u0085", "\u2028"]


def _with_inside(field: str, char: str) -> str:
    """A value for `field` that is valid except for `char` in its middle."""
    return f"cam{char}ille@example.org" if field == "email" else f"Cam{char}ille"


@pytest.mark.parametrize("char", CONTROL_CHARACTERS, ids=lambda c: f"U+{ord(c):04X}")
@pytest.mark.parametrize("field", TEXT_FIELDS)
@pytest.mark.parametrize("language", ["en", "fr"])
def test_control_characters_are_refused_next_to_the_field(
    app: Flask, client, db, event, outbox: Outbox, field, char, language
):
    with app.test_request_context(), force_locale(language):
        message = _(CONTROL_MESSAGE)
    if language != "en":
        assert message != CONTROL_MESSAGE, f"no {language} translation of {CONTROL_MESSAGE!r}"
    before = count(db, event)

    response = client.post(
        f"/events/{event.slug}/register",
        data=form_data(event, **{field: _with_inside(field, char)}),
        headers={"Accept-Language": language},
    )

    assert response.status_code == 422
    assert str(escape(message)) in error_for(response.text, field)
    assert count(db, event) == before
    assert outbox.messages == []


def _email_of_length(length: int) -> str:
    """A well-formed address of exactly `length` characters (DNS labels of at most 63)."""
    local = "a" * 64
    left = length - len(local) - 1  # for the domain
    labels = []
    while left > 67:  # keep room for a last label of 1 to 63 characters and ".org"
        labels.append("d" * 62)
        left -= 63
    labels.append("d" * (left - 4) + ".org")
    address = f"{local}@{'.'.join(labels)}"
    assert len(address) == length
    return address


@pytest.mark.parametrize(
    ("field", "value", "limit"),
    [
        ("first_name", "é" * 101, 100),
        ("last_name", "l" * 101, 100),
        ("email", _email_of_length(255), 254),
        ("organisation", "o" * 201, 200),
        ("job_title", "j" * 201, 200),
    ],
)
def test_over_long_values_are_refused_with_a_message(
    client, db, event, outbox, field, value, limit
):
    before = count(db, event)

    response = post(client, event, form_data(event, **{field: value}))

    assert response.status_code == 422
    message = error_for(response.text, field)
    assert str(limit) in message, message  # the wording is the form's; the limit is told
    assert count(db, event) == before
    assert outbox.messages == []


def test_values_at_the_limits_are_accepted(client, db, event, outbox):
    data = form_data(
        event,
        first_name="f" * 100,
        last_name="l" * 100,
        email=_email_of_length(254),
        organisation="o" * 200,
        job_title="j" * 200,
    )
    response = post(client, event, data)
    assert response.status_code == 303
    registration = by_token(db, response.headers["Location"])
    assert registration.email == data["email"]
    assert len(registration.job_title or "") == 200


# --- arbitrary garbage -------------------------------------------------------------

MISSING = object()
HUGE = "x" * 20_000

scalar = st.one_of(
    st.text(max_size=120),
    st.binary(max_size=120),  # sent as raw bytes: often not UTF-8 at all
    st.emails(),
    st.integers().map(str),
    st.sampled_from(["", " ", "\x00", "\u2028", "\ufeff", "y", "on", "0", HUGE, "é" * 3000]),
)
garbage = st.one_of(scalar, st.lists(scalar, min_size=2, max_size=3))


def _encode(value: Any) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode("utf-8", "surrogatepass")


def urlencoded(fields: dict[str, Any]) -> bytes:
    pairs = []
    for key, value in fields.items():
        for item in value if isinstance(value, list) else [value]:
            pairs.append((_encode(key), _encode(item)))
    return urlencode(pairs).encode("ascii")


def check_saved_registration_is_valid(registration: Registration, event: Event) -> None:
    for name, limit in [
        (registration.first_name, 100),
        (registration.last_name, 100),
        (registration.organisation.name, 200),
        (registration.job_title or "x", 200),
        (registration.email, 254),
    ]:
        assert 1 <= len(name) <= limit
        assert not any(unicodedata.category(c) in REFUSED_CATEGORIES for c in name), name
    for name in (registration.first_name, registration.last_name, registration.organisation.name):
        assert name == collapsed(name)
    validate_email(registration.email, check_deliverability=False)
    assert registration.email_key == registration.email.casefold()
    assert registration.organisation_type in set(OrganisationType)
    assert registration.status in (RegistrationStatus.CONFIRMED, RegistrationStatus.WAITLISTED)
    assert {s.id for s in registration.sessions} <= {s.id for s in event.sessions}


@pytest.fixture
def two_events(db: DbSession) -> tuple[Event, Event]:
    limited = [SessionSpec("Plénière", "plenary"), SessionSpec("Atelier", "workshop", capacity=0)]
    events = make_event(db, sessions=limited, capacity=40), make_event(db)
    db.commit()
    return events


@FUZZ
@given(data=st.data())
def test_garbage_never_breaks_the_form(client, db, two_events, outbox, data):
    event, other = two_events
    fields: dict[str, Any] = form_data(event, email=fresh_email())
    fields["sessions"] = [str(s.id) for s in event.sessions[:1]]
    own_ids = [str(s.id) for s in event.sessions]
    other_ids = [str(s.id) for s in other.sessions]

    names = [*TEXT_FIELDS, "organisation_type", "sessions", "consent", "website"]
    for name in data.draw(st.sets(st.sampled_from(names)), label="broken fields"):
        if name == "sessions":
            replacement: Any = data.draw(
                st.one_of(
                    st.just(MISSING),
                    st.lists(
                        st.one_of(
                            st.sampled_from(own_ids),
                            st.sampled_from(other_ids),
                            st.integers().map(str),
                            st.text(max_size=12),
                            st.just("9" * 5000),
                        ),
                        max_size=5,
                    ),
                ),
                label="sessions",
            )
        elif name == "organisation_type":
            replacement = data.draw(
                st.one_of(
                    st.just(MISSING),
                    st.sampled_from([t.value for t in OrganisationType]),
                    garbage,
                ),
                label=name,
            )
        else:
            replacement = data.draw(st.one_of(st.just(MISSING), garbage), label=name)
        if replacement is MISSING:
            fields.pop(name, None)
        else:
            fields[name] = replacement
    fields.update(
        data.draw(st.dictionaries(st.text(max_size=10), scalar, max_size=2), label="extra")
    )
    before = count(db, event)
    mails_before = mail_count(outbox)

    response = client.post(
        f"/events/{event.slug}/register",
        data=urlencoded(fields),
        content_type="application/x-www-form-urlencoded",
    )

    hypothesis.event(f"status {response.status_code}")
    assert response.status_code in (200, 303, 409, 422)
    if response.status_code == 303:
        assert count(db, event) == before + 1
        registration = by_token(db, response.headers["Location"])
        check_saved_registration_is_valid(registration, event)
        assert mail_count(outbox) == mails_before + 1
    else:
        assert count(db, event) == before
        if response.status_code == 422:
            assert mail_count(outbox) == mails_before


def test_a_body_over_the_size_limit_is_refused_cleanly(client, db, event, outbox):
    response = post(client, event, form_data(event, organisation="o" * (3 * 1024 * 1024)))
    assert response.status_code == 413
    assert count(db, event) == 0


# --- values that grow past their column once normalised ---------------------------------


def test_organisation_key_fits_its_column(client, db, event, outbox):
    response = post(client, event, form_data(event, organisation="\ufdfa" * 20))
    assert response.status_code in (303, 422)
    if response.status_code == 303:
        registration = by_token(db, response.headers["Location"])
        assert len(registration.organisation.name_key) <= 200


def test_email_key_fits_its_column(client, db, event, outbox):
    address = "\u0390" * 32 + "@" + "a" * 60 + "." + "b" * 60 + "." + "c" * 60 + ".dd.com"
    response = post(client, event, form_data(event, email=address))
    assert response.status_code in (303, 422)
    if response.status_code == 303:
        registration = by_token(db, response.headers["Location"])
        assert len(registration.email_key) <= 254


@pytest.mark.parametrize(
    "url",
    [
        "/events/a%00b/register",
        "/r/" + quote("\x00" * 30),
        "/organisations.json?q=" + quote("Vege\x00"),
    ],
    ids=["event-slug", "private-token", "organisation-suggestions"],
)
def test_nul_in_urls_is_no_server_error(client, db, url):
    response = client.get(url)
    assert response.status_code in (200, 404)


# --- CSRF ---------------------------------------------------------------------------


def _csrf_token(page: str) -> str:
    tag = re.search(r'<input[^>]*name="csrf_token"[^>]*>', page)
    assert tag, "no csrf_token in the page"
    value = re.search(r'value="([^"]+)"', tag.group(0))
    assert value, tag.group(0)
    return value.group(1)


@pytest.fixture
def csrf(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)


def test_csrf_a_post_without_the_token_is_refused(client, db, event, outbox, csrf):
    client.get(f"/events/{event.slug}/register")  # a session exists, the token is not sent

    for data in (form_data(event), form_data(event, csrf_token="forged")):
        response = post(client, event, data)
        assert response.status_code == 400
        assert "The form has expired" in response.text
    assert count(db, event) == 0
    assert outbox.messages == []


def test_csrf_the_refusal_page_is_translated(app, client, db, event, csrf):
    with app.test_request_context(), force_locale("fr"):
        title = _("The form has expired")
    assert title != "The form has expired"
    response = client.post(
        f"/events/{event.slug}/register",
        data=form_data(event),
        headers={"Accept-Language": "fr"},
    )
    assert response.status_code == 400
    assert str(escape(title)) in response.text


def test_csrf_a_post_with_the_token_from_the_form_succeeds(client, db, event, outbox, csrf):
    page = client.get(f"/events/{event.slug}/register")
    data = form_data(event, csrf_token=_csrf_token(page.text))

    response = post(client, event, data)

    assert response.status_code == 303
    assert count(db, event) == 1
    assert len(outbox.to(data["email"])) == 1  # type: ignore[arg-type]


def test_csrf_cancelling_needs_the_token_too(client, db, event, csrf):
    registration = make_registration(db, event)
    db.commit()
    url = f"/r/{registration.manage_token}/cancel"

    assert client.post(url).status_code == 400
    db.expire_all()
    assert registration.status == RegistrationStatus.CONFIRMED

    token = _csrf_token(client.get(url).text)
    assert client.post(url, data={"csrf_token": token}).status_code == 303
    db.expire_all()
    assert registration.status == RegistrationStatus.CANCELLED


# --- the honeypot ------------------------------------------------------------------------


@pytest.mark.parametrize("website", ["http://spam.example", "x", "  https://a.example  "])
def test_honeypot_filled_gets_a_neutral_thank_you_and_nothing_happens(
    client, db, event, outbox, website
):
    response = post(client, event, form_data(event, website=website))

    assert response.status_code == 200
    assert "<h1>Thank you</h1>" in response.text
    assert "already" not in response.text.lower()
    assert count(db, event) == 0
    assert outbox.messages == []


def test_honeypot_filled_with_a_registered_address_sends_no_link(client, db, event, outbox):
    existing = make_registration(db, event)
    db.commit()

    response = post(client, event, form_data(event, email=existing.email, website="spam"))

    assert response.status_code == 200
    assert "<h1>Thank you</h1>" in response.text
    assert outbox.messages == []


@pytest.mark.parametrize("website", ["", "   "])
def test_honeypot_empty_registers_normally(client, db, event, outbox, website):
    data = form_data(event, website=website)

    response = post(client, event, data)

    assert response.status_code == 303
    assert count(db, event) == 1
    assert len(outbox.to(data["email"])) == 1  # type: ignore[arg-type]
