"""Every value interpolated into a message is escaped where a page shows it, translated
messages included: a lazily translated message is text, never markup."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from flask import render_template_string
from markupsafe import escape

from tests.conftest import form_data, login, make_event, make_user
from tracker.events.services import SessionSpec
from tracker.i18n import lazy_gettext
from tracker.models import Role

ROOT = Path(__file__).resolve().parent.parent
POT = ROOT / "tracker" / "translations" / "messages.pot"
PAYLOAD = '<meta http-equiv="refresh" content="0;url=https://evil.example/">'
PLACEHOLDER = re.compile(r"%\((\w+)\)([sd])")


def _messages_with_arguments() -> list[tuple[str | tuple[str, str], dict[str, object]]]:
    with POT.open("rb") as f:
        catalogue = read_po(f)
    found = []
    for message in catalogue:
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        values: dict[str, object] = {}
        for text in ids:
            for name, kind in PLACEHOLDER.findall(text):
                values[name] = 2 if kind == "d" else PAYLOAD
        if any(v == PAYLOAD for v in values.values()):
            found.append((message.id, values))
    return found


MESSAGES = _messages_with_arguments()


def test_the_catalogue_has_messages_with_text_arguments():
    # The test below is only as good as what it walks through.
    assert len(MESSAGES) > 20


@pytest.mark.usefixtures("compiled_catalogues")
@pytest.mark.parametrize("language", ["fr", "en"])
def test_every_message_with_an_argument_escapes_it(app, language):
    """Each message of the catalogue that takes a text argument, given markup: as a
    lazy message from Python, and as a message of a template, the page holds the
    markup as text."""
    headers = {"Accept-Language": language}
    leaks = []
    with app.test_request_context(headers=headers):
        for msgid, values in MESSAGES:
            if isinstance(msgid, tuple):
                singular, plural = msgid
                pages = [
                    render_template_string(
                        "{{ ngettext(singular, plural, num, **values) }}",
                        singular=singular,
                        plural=plural,
                        num=values.pop("num", 2),
                        values=values,
                    )
                ]
            else:
                pages = [
                    render_template_string("{{ m }}", m=lazy_gettext(msgid, **values)),
                    render_template_string("<p>{{ m|e }}</p>", m=lazy_gettext(msgid, **values)),
                    render_template_string("{{ _(msgid, **values) }}", msgid=msgid, values=values),
                ]
            for page in pages:
                if "<meta" in page or str(escape(PAYLOAD)) not in page:
                    leaks.append(f"{msgid!r}: {page[:120]}")
    assert not leaks, "\n".join(leaks)


def test_a_lazy_message_is_text_in_json(app):
    with app.test_request_context():
        body = app.json.dumps({"message": lazy_gettext("A <b> & 'c'")})
    assert json.loads(body) == {"message": "A <b> & 'c'"}


def test_markup_in_an_export_parameter_is_shown_as_text(app, client, db):
    event = make_event(db)
    user = make_user(app, db, Role.ORGANISER, [event])
    db.commit()
    login(client, user)
    for query in ({"what": PAYLOAD, "format": "csv"}, {"what": "attendees", "format": PAYLOAD}):
        response = client.get(f"/events/{event.slug}/export", query_string=query)
        assert response.status_code == 400
        page = response.get_data(as_text=True)
        assert "<meta http-equiv" not in page
        assert str(escape(PAYLOAD)) in page


def test_markup_in_a_session_title_is_shown_as_text(client, db):
    event = make_event(db, sessions=[SessionSpec(PAYLOAD, capacity=0)])
    db.commit()
    response = client.post(
        f"/events/{event.slug}/register", data=form_data(sessions=[event.sessions[0].id])
    )
    page = response.get_data(as_text=True)
    assert "is full" in page
    assert "<meta http-equiv" not in page
    assert str(escape(PAYLOAD)) in page


def test_a_label_with_angle_brackets_is_shown(app, client, db):
    """The label "/events/<slug>" used to be written as a tag, which hid it."""
    user = make_user(app, db, Role.ADMIN)
    db.commit()
    login(client, user)
    page = client.get("/events/new").get_data(as_text=True)
    assert "/events/&lt;slug&gt;" in page


def test_lazy_messages_come_from_one_place():
    """Flask-Babel's own lazy_gettext makes markup of its message: the app's is used."""
    wrong = []
    for path in (ROOT / "tracker").rglob("*.py"):
        if path.name == "i18n.py" and path.parent.name == "tracker":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module == "flask_babel":
                wrong += [
                    f"{path.relative_to(ROOT)}: {alias.name}"
                    for alias in node.names
                    if alias.name.startswith("lazy_")
                ]
    assert not wrong, "import lazy messages from tracker.i18n:\n" + "\n".join(wrong)
