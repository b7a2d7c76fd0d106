"""French and English: language choice, translated pages, errors, dates and e-mails,
and a catalogue that covers every message of the code and templates."""

from __future__ import annotations

import ast
import html
import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from babel.messages import frontend
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po
from babel.support import Translations
from sqlalchemy import select

import tracker.errors
from tests.conftest import form_data, make_event, page_text
from tracker.events.services import SessionSpec
from tracker.models import Registration

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "tracker" / "translations"
FR_PO = TRANSLATIONS / "fr" / "LC_MESSAGES" / "messages.po"
POT = TRANSLATIONS / "messages.pot"
NBSP = "\u00a0"
FR = {"Accept-Language": "fr"}
EN = {"Accept-Language": "en"}


@pytest.fixture(autouse=True)
def _pages_need_compiled_catalogues(request: pytest.FixtureRequest) -> None:
    if "client" in request.fixturenames:
        request.getfixturevalue("compiled_catalogues")


def field_errors(page: str) -> list[str]:
    return [html.unescape(e) for e in re.findall(r'class="error" id="[^"]+">([^<]*)<', page)]


# --- choosing the language ---------------------------------------------------------


def test_form_follows_accept_language(client, db):
    event = make_event(db)
    db.commit()
    french = page_text(client.get(f"/events/{event.slug}/register", headers=FR))
    assert '<html lang="fr">' in french
    for label in ["Prénom", "Nom", "Adresse électronique", "Type d’organisme"]:
        assert f">{label}</label>" in french or f"<legend>{label}</legend>" in french
    assert "Pôle de compétitivité" in french and "Ministère" in french
    assert "S’inscrire" in french and "First name" not in french

    english = page_text(client.get(f"/events/{event.slug}/register", headers=EN))
    assert '<html lang="en">' in english
    for label in ["First name", "Last name", "E-mail address"]:
        assert f">{label}</label>" in english
    assert "Prénom" not in english


def test_unsupported_language_falls_back_to_french(client, db):
    event = make_event(db)
    db.commit()
    page = page_text(
        client.get(f"/events/{event.slug}/register", headers={"Accept-Language": "de"})
    )
    assert '<html lang="fr">' in page and ">Prénom</label>" in page


def test_switcher_sets_the_cookie_and_wins_over_accept_language(client, db):
    event = make_event(db)
    db.commit()
    path = f"/events/{event.slug}"

    response = client.get("/lang/en", query_string={"next": path}, headers=FR)
    assert response.status_code in (302, 303)
    assert response.location == path
    cookie = client.get_cookie("lang")
    assert cookie is not None and cookie.value == "en"

    page = page_text(client.get(path, headers=FR))
    assert '<html lang="en">' in page and re.search(r">\s*Register\s*</a>", page)

    client.get("/lang/fr", query_string={"next": path}, headers=EN)
    page = page_text(client.get(path, headers=EN))
    assert '<html lang="fr">' in page and re.search(r">\s*S’inscrire\s*</a>", page)


def test_switcher_keeps_the_query_string(client, db):
    event = make_event(db)
    db.commit()
    page = client.get(f"/events/{event.slug}/register?x=1", headers=FR).text
    link = html.unescape(re.search(r'href="(/lang/en\?[^"]+)"', page).group(1))
    response = client.get(link)
    assert response.location == f"/events/{event.slug}/register?x=1"


def test_unknown_language_sets_no_cookie(client):
    response = client.get("/lang/de", query_string={"next": "/privacy"})
    assert response.location == "/privacy"
    assert client.get_cookie("lang") is None


def _is_local(location: str) -> bool:
    parts = urlsplit(location)
    return (
        not parts.scheme
        and not parts.netloc
        and location.startswith("/")
        and not location.startswith("//")
    )


@pytest.mark.parametrize(
    "target",
    ["//evil.example", "https://evil.example", "/\\evil.example", "javascript:alert(1)", ""],
)
def test_switcher_is_no_open_redirect(client, target):
    response = client.get("/lang/en", query_string={"next": target})
    assert response.status_code in (302, 303)
    assert _is_local(response.location), response.location


@pytest.mark.parametrize(
    "target", ["/\t/evil.example", "/\n/evil.example", "/\\evil.example", "/\x7f/x"]
)
def test_switcher_refuses_control_characters(client, target):
    response = client.get("/lang/en", query_string={"next": target})
    assert response.status_code in (302, 303)
    assert _is_local(response.location) and "evil" not in response.location


# --- errors ----------------------------------------------------------------------


def test_missing_fields_are_explained_in_french(client, db):
    event = make_event(db)
    db.commit()
    data = form_data(event, first_name="", email="", organisation="", consent="")
    del data["organisation_type"]
    response = client.post(f"/events/{event.slug}/register", data=data, headers=FR)
    assert response.status_code == 422
    page = page_text(response)
    assert "Veuillez corriger les champs signalés ci-dessous." in page
    errors = field_errors(response.get_data(as_text=True))
    assert errors.count("Ce champ est obligatoire.") == 3
    assert "Choisissez le type de votre organisme." in errors
    assert "Votre consentement est nécessaire pour vous inscrire." in errors
    assert not any("required" in e for e in errors)

    english = client.post(f"/events/{event.slug}/register", data=data, headers=EN)
    assert "This field is required." in field_errors(english.get_data(as_text=True))


def test_choice_and_length_messages_are_french(client, db):
    """Our wording for a bad type and an over-long value, and WTForms' own message for
    a session that is not offered, all follow the page's language."""
    event = make_event(db)
    db.commit()
    data = form_data(
        event, organisation_type="pirates", email="a" * 250 + "@x.example", sessions=["999999"]
    )
    response = client.post(f"/events/{event.slug}/register", data=data, headers=FR)
    assert response.status_code == 422
    errors = " ".join(field_errors(response.get_data(as_text=True)))
    assert "Choisissez le type de votre organisme." in errors
    assert "254 caractères au plus" in errors
    assert "n'est pas un choix valide pour ce champ" in errors
    assert "valid choice" not in errors

    english = " ".join(
        field_errors(
            client.post(f"/events/{event.slug}/register", data=data, headers=EN).get_data(
                as_text=True
            )
        )
    )
    assert "Choose the type of your organisation." in english
    assert "At most 254 characters" in english
    assert "is not a valid choice for this field" in english


def test_domain_errors_are_french(client, db):
    event = make_event(db, sessions=[SessionSpec("Table ronde 1", capacity=0)])
    db.commit()
    data = form_data(event)
    response = client.post(f"/events/{event.slug}/register", data=data, headers=FR)
    assert response.status_code == 422
    assert (
        f"La session «{NBSP}Table ronde 1{NBSP}» est complète. Choisissez-en une autre."
        in page_text(response)
    )


def test_error_pages_are_french(client):
    response = client.get("/events/no-such-event", headers=FR)
    assert response.status_code == 404
    page = page_text(response)
    assert "Introuvable." in page and "Retour aux événements" in page


# --- numbers and dates -------------------------------------------------------------


def test_plurals_follow_french_rules(client, db):
    event = make_event(
        db,
        capacity=1,
        sessions=[
            SessionSpec("Plénière", capacity=1),
            SessionSpec("Table ronde 1", capacity=5),
            SessionSpec("Table ronde 2", capacity=0),
        ],
    )
    db.commit()
    page = page_text(client.get(f"/events/{event.slug}", headers=FR))
    assert "1 place restante" in page and "5 places restantes" in page
    assert ">complète<" in page
    form = page_text(client.get(f"/events/{event.slug}/register", headers=FR))
    assert "Il reste 1 place." in form
    assert "Table ronde 2 (complète)" in form

    english = page_text(client.get(f"/events/{event.slug}", headers=EN))
    assert "1 place left" in english and "5 places left" in english


def test_compiled_french_catalogue_uses_french_plural_rule(compiled_catalogues):
    """French puts 0 in the singular (plural=(n > 1)), unlike English."""
    fr = Translations.load(str(TRANSLATIONS), ["fr"])
    one, many = "%(num)d place left.", "%(num)d places left."
    assert fr.ngettext(one, many, 0) == "Il reste %(num)d place."
    assert fr.ngettext(one, many, 1) == "Il reste %(num)d place."
    assert fr.ngettext(one, many, 2) == "Il reste %(num)d places."
    catalog = read_po(FR_PO.open("rb"))
    assert catalog.num_plurals == 2 and catalog.plural_expr.replace(" ", "") == "(n>1)"


def test_dates_in_the_reader_language_and_the_event_time_zone(client, db):
    event = make_event(
        db,
        starts_at=datetime(2030, 12, 10, 8, 0, tzinfo=UTC),
        ends_at=datetime(2030, 12, 10, 16, 30, tzinfo=UTC),
        timezone="Europe/Paris",
        sessions=[SessionSpec("Plénière", starts_at=datetime(2030, 12, 10, 8, 30, tzinfo=UTC))],
    )
    db.commit()
    french = page_text(client.get(f"/events/{event.slug}", headers=FR))
    assert "mardi 10 décembre 2030" in french
    assert "09:00" in french and "17:30" in french and "09:30" in french

    english = page_text(client.get(f"/events/{event.slug}", headers=EN))
    assert "Tuesday, December 10, 2030" in english
    assert re.search(r"\b9:00\sAM", english) and re.search(r"\b5:30\sPM", english)
    assert "décembre" not in english


def test_summer_time_is_applied(client, db):
    event = make_event(
        db,
        starts_at=datetime(2030, 7, 10, 8, 0, tzinfo=UTC),
        timezone="Europe/Paris",
        registration_closes_at=datetime(2030, 7, 10, 8, 0, tzinfo=UTC),
    )
    db.commit()
    page = page_text(client.get(f"/events/{event.slug}", headers=FR))
    assert "mercredi 10 juillet 2030" in page and "10:00" in page


# --- e-mails -----------------------------------------------------------------------


def _plain(message) -> str:  # type: ignore[no-untyped-def]
    return message.get_body(preferencelist=("plain",)).get_content()


def _html(message) -> str:  # type: ignore[no-untyped-def]
    return message.get_body(preferencelist=("html",)).get_content()


def test_confirmation_email_is_in_the_registrant_language(client, db, outbox):
    event = make_event(db, starts_at=datetime(2030, 12, 10, 8, 0, tzinfo=UTC))
    db.commit()
    data = form_data(event)
    response = client.post(f"/events/{event.slug}/register", data=data, headers=FR)
    assert response.status_code == 303
    db.expire_all()
    registration = db.scalar(select(Registration).where(Registration.email == data["email"]))
    assert registration.locale == "fr"

    [message] = outbox.to(str(data["email"]))
    assert message["Subject"] == f"Votre inscription{NBSP}: {event.title}"
    body = _plain(message)
    assert "Votre inscription est confirmée." in body
    assert "mardi 10 décembre 2030" in body and "09:00" in body
    assert f"Organisme{NBSP}: Vegepolys" in body
    assert "Votre code d’entrée" in body
    assert "registration is confirmed" not in body
    assert "Votre inscription est confirmée." in _html(message)

    english = form_data(event)
    client.post(f"/events/{event.slug}/register", data=english, headers=EN)
    [message] = outbox.to(str(english["email"]))
    assert message["Subject"] == f"Your registration: {event.title}"
    assert "Your registration is confirmed." in _plain(message)
    assert "Tuesday, December 10, 2030" in _plain(message)


def test_promotion_email_keeps_the_registrant_language(client, db, outbox):
    """A French person promoted from the waitlist because an English speaker cancels
    is told in French."""
    event = make_event(db, capacity=1)
    db.commit()
    first, second = form_data(event), form_data(event)
    client.post(f"/events/{event.slug}/register", data=first, headers=EN)
    client.post(f"/events/{event.slug}/register", data=second, headers=FR)
    [waitlisted] = outbox.to(str(second["email"]))
    assert "vous êtes sur liste d’attente" in _plain(waitlisted)

    db.expire_all()
    token = db.scalar(select(Registration.manage_token).where(Registration.email == first["email"]))
    response = client.post(f"/r/{token}/cancel", headers=EN)
    assert response.status_code == 303

    promoted = outbox.to(str(second["email"]))[-1]
    assert promoted["Subject"] == f"Une place vous est attribuée{NBSP}: {event.title}"
    assert "Bonne nouvelle" in _plain(promoted)


# --- the catalogue -----------------------------------------------------------------


def _makefile_keywords() -> dict:
    """Babel's default keywords plus BABEL_KEYWORDS from the Makefile."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    line = re.search(r"^BABEL_KEYWORDS\s*:?=(.*)$", makefile, re.M)
    assert line, "the Makefile defines BABEL_KEYWORDS"
    specs = re.findall(r"-k\s*(\S+)", line.group(1))
    keywords = dict(DEFAULT_KEYWORDS)
    keywords.update(frontend.parse_keywords(specs))
    return keywords


def _fresh_extraction() -> dict[object, list[tuple[str, int]]]:
    """Every message in the code and templates now, by id (with where it is).
    Folders starting with "_" (templates/_macros) are searched too."""
    parse = getattr(frontend, "parse_mapping_cfg", None) or frontend.parse_mapping
    with (ROOT / "babel.cfg").open(encoding="utf-8") as f:
        method_map, options_map = parse(f)

    def directory_filter(path: str) -> bool:
        name = Path(path).name
        return not name.startswith(".") and name not in {"__pycache__", "node_modules"}

    found: dict[object, list[tuple[str, int]]] = {}
    for filename, lineno, message, _comments, context in extract_from_dir(
        str(ROOT),
        method_map,
        options_map,
        keywords=_makefile_keywords(),
        directory_filter=directory_filter,
    ):
        found.setdefault((context, message), []).append((filename, lineno))
    return found


def test_every_message_has_a_french_translation():
    extracted = _fresh_extraction()
    assert len(extracted) > 50  # the extraction itself works
    assert (None, ("%(num)d place left.", "%(num)d places left.")) in extracted  # _macros/
    catalog = read_po(FR_PO.open("rb"), locale="fr")
    missing = []
    for (context, msgid), where in extracted.items():
        message = catalog.get(msgid[0] if isinstance(msgid, tuple) else msgid, context=context)
        strings = message.string if message is not None else ""
        strings = strings if isinstance(strings, tuple) else (strings,)
        if message is None or message.fuzzy or not all(s.strip() for s in strings):
            missing.append(f"{where[0][0]}:{where[0][1]}: {msgid!r}")
    assert not missing, (
        "untranslated in fr/messages.po (run `make extract-messages`, then translate):\n"
        + "\n".join(missing)
    )


def test_template_is_up_to_date():
    extracted = set(_fresh_extraction())
    template = {(m.context, m.id) for m in read_po(POT.open("rb")) if m.id}
    assert extracted == template, "messages.pot is stale: run `make extract-messages`"


def test_french_translations_keep_placeholders_and_plural_forms():
    catalog = read_po(FR_PO.open("rb"), locale="fr")
    problems = [
        f"{message.id!r}: {'; '.join(str(e) for e in errors)}"
        for message, errors in catalog.check()
    ]
    assert not problems, "\n".join(problems)
    for message in catalog:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        wanted = set(re.findall(r"%\(\w+\)\w", ids[-1]))
        for string in strings:
            assert set(re.findall(r"%\(\w+\)\w", string)) <= wanted, message.id


def test_english_catalogue_exists():
    catalog = read_po((TRANSLATIONS / "en" / "LC_MESSAGES" / "messages.po").open("rb"))
    assert str(catalog.locale) == "en"


def test_the_code_uses_only_extracted_gettext_names():
    """A gettext function imported under a name the extraction does not know would
    leave its messages out of the catalogue without anyone noticing."""
    keywords = _makefile_keywords()
    wrong = []
    for path in (ROOT / "tracker").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module in {"flask_babel", "babel.support"}:
                for alias in node.names:
                    if "gettext" in alias.name and (alias.asname or alias.name) not in keywords:
                        wrong.append(f"{path.relative_to(ROOT)}: {alias.name} as {alias.asname}")
    assert not wrong, wrong


# Labels, validator messages, flashes and domain errors must not be bare strings; nor what
# the command line prints or shows as help (click.echo, its errors and prompts, help=).
_TEXT_CALLS = {"flash", "ValidationError", "echo", "ClickException", "BadParameter", "prompt"} | {
    name
    for name, value in vars(tracker.errors).items()
    if isinstance(value, type) and issubclass(value, tracker.errors.DomainError)
}
_MESSAGE_FIRST = {"DataRequired", "InputRequired", "Email", "Optional"}


def _literal(node: ast.AST) -> bool:
    return isinstance(node, ast.JoinedStr) or (
        isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.strip()
    )


def test_python_texts_for_people_are_wrapped():
    bare = []
    for path in (ROOT / "tracker").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            first = node.args[0] if node.args else None
            checks = [kw.value for kw in node.keywords if kw.arg in {"message", "label", "help"}]
            if name in _TEXT_CALLS or name in _MESSAGE_FIRST or name.endswith("Field"):
                checks.append(first)
            if any(c is not None and _literal(c) for c in checks):
                bare.append(f"{path.relative_to(ROOT)}:{node.lineno}: {name}(...)")
    assert not bare, "wrap these in _() or _l():\n" + "\n".join(bare)


class _VisibleText(HTMLParser):
    ATTRIBUTES = {"alt", "title", "placeholder", "aria-label", "label"}

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):  # type: ignore[no-untyped-def]
        if tag in {"script", "style"}:
            self._skip += 1
        self.texts.extend(v for k, v in attrs if k in self.ATTRIBUTES and v)

    def handle_endtag(self, tag):  # type: ignore[no-untyped-def]
        if tag in {"script", "style"}:
            self._skip = max(self._skip - 1, 0)

    def handle_data(self, data):  # type: ignore[no-untyped-def]
        if not self._skip:
            self.texts.append(data)


# Names that are the same in every language: the product, and each language in itself.
_UNTRANSLATED_WORDS = {"tracker", "Français", "English"}


def test_templates_have_no_untranslated_text():
    found = []
    for path in sorted((ROOT / "templates").rglob("*")):
        if path.suffix not in {".html", ".txt"}:
            continue
        source = path.read_text(encoding="utf-8")
        source = re.sub(r"{%-?\s*trans\b.*?{%-?\s*endtrans\s*-?%}", " ", source, flags=re.S)
        # Blocks that fill in attributes of a tag of the parent (main_attrs) hold no text.
        source = re.sub(
            r"{%\s*block\s+\w*attrs\s*%}.*?{%\s*endblock\b.*?%}", " ", source, flags=re.S
        )
        source = re.sub(r"{#.*?#}|{%.*?%}|{{.*?}}", " ", source, flags=re.S)
        if path.suffix == ".html":
            parser = _VisibleText()
            parser.feed(source)
            texts = parser.texts
        else:
            texts = [source]
        for text in texts:
            words = set(re.findall(r"[^\W\d_]{2,}", text)) - _UNTRANSLATED_WORDS
            if words:
                found.append(f"{path.relative_to(ROOT)}: {sorted(words)}")
    assert not found, "visible text outside _():\n" + "\n".join(found)
