"""An event's own questions, as they are read: the answers on the registration's pages,
the registrations list's filter per question (q_<id>=<option>), a column per question in
the attendees export, the counts of each option on the statistics, on the badge and at
the door. Questions and answers are written straight into the database here."""

from __future__ import annotations

import csv
import io
import re

import pytest
from openpyxl import load_workbook
from sqlalchemy import event as sa_event
from sqlalchemy import select

from tests.conftest import (
    bearer,
    checkins_url,
    csv_tables,
    login,
    make_event,
    make_registration,
    make_user,
    page_text,
    pdf_text,
    render_export,
)
from tracker.badges import ahead
from tracker.badges.layouts import LAYOUTS
from tracker.checkin.services import check_in
from tracker.mailings import services as mailings
from tracker.models import (
    Answer,
    Event,
    Question,
    QuestionKind,
    Registration,
    RegistrationStatus,
    Role,
)
from tracker.organiser.services import Filters
from tracker.questions import answers as qa
from tracker.registration.services import cancel_registration
from tracker.reports import exports

YES_NO, CHOICE, CHOICES = QuestionKind.YES_NO, QuestionKind.CHOICE, QuestionKind.CHOICES
TEXT, LONG_TEXT = QuestionKind.TEXT, QuestionKind.LONG_TEXT
DIETS = ["Vegetarian", "Vegan", "None"]
WORKSHOPS = ["Water", "Soil", "Air"]


def add_question(db, event: Event, label: str, kind: QuestionKind, **fields) -> Question:
    question = Question(
        event=event, label=label, kind=kind, position=len(event.questions), **fields
    )
    db.add(question)
    db.flush()
    return question


def answer(db, registration: Registration, question: Question, *values: str) -> None:
    db.add_all(
        Answer(registration_id=registration.id, question_id=question.id, value=v) for v in values
    )
    db.flush()
    db.expire(registration, ["answers"])


def person(db, event, name: str, **fields) -> Registration:
    return make_registration(
        db,
        event,
        first_name=name,
        last_name=f"Person {name}",
        email=f"{name}@example.org",
        **fields,
    )


@pytest.fixture
def event(db):
    return make_event(db)


@pytest.fixture
def questions(db, event):
    """Diet (a choice, at the door), Workshops (several choices), Speaker (yes/no, on the
    badge), Remarks (long text, neither)."""
    return (
        add_question(db, event, "Diet", CHOICE, choices=DIETS, at_door=True),
        add_question(db, event, "Workshops", CHOICES, choices=WORKSHOPS),
        add_question(db, event, "Speaker", YES_NO, on_badge=True),
        add_question(db, event, "Remarks", LONG_TEXT),
    )


@pytest.fixture
def people(db, event, questions):
    """A: vegetarian, Air and Water, speaker; B: vegan, no speaker; C: answered nothing."""
    diet, workshops, speaker, remarks = questions
    a, b, c = (person(db, event, name) for name in ("ann", "bob", "cid"))
    answer(db, a, diet, "Vegetarian")
    answer(db, a, workshops, "Air", "Water")  # in the order given, not the options'
    answer(db, a, speaker, "yes")
    answer(db, a, remarks, "Arrives late\n<script>alert(1)</script>")
    answer(db, b, diet, "Vegan")
    answer(db, b, speaker, "no")
    return a, b, c


# --- reading ---------------------------------------------------------------------------


def test_answers_read_as_text_in_the_questions_order(db, app_ctx, event, questions, people):
    a, b, c = people
    shown = qa.registration_answers(a)
    assert [(s.label, s.value) for s in shown] == [
        ("Diet", "Vegetarian"),
        ("Workshops", "Water, Air"),  # the options' order
        ("Speaker", "Yes"),
        ("Remarks", "Arrives late\n<script>alert(1)</script>"),
    ]
    assert [(s.label, s.value) for s in qa.registration_answers(b)] == [
        ("Diet", "Vegan"),
        ("Speaker", "No"),
    ]
    assert qa.registration_answers(c) == []
    assert qa.on_badge(a) == ["Speaker"] and qa.on_badge(b) == [] and qa.on_badge(c) == []
    assert qa.at_door(a) == [{"label": "Diet", "value": "Vegetarian"}]
    assert qa.at_door(c) == []


# --- pages -----------------------------------------------------------------------------


def test_the_organiser_page_shows_the_answers_escaped_with_their_line_breaks(
    app, client, db, event, questions, people
):
    a, _b, c = people
    login(client, make_user(app, db, Role.ORGANISER, [event]))
    html = client.get(f"/events/{event.slug}/registrations/{a.id}").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html
    assert (
        f'<dd class="answer" data-question="{questions[3].id}">'
        "Arrives late\n&lt;script&gt;alert(1)&lt;/script&gt;</dd>"
    ) in html
    assert (
        f'<dt>Workshops</dt><dd class="answer" data-question="{questions[1].id}">Water, Air' in html
    )
    assert "<dt>Speaker</dt>" in html
    html = client.get(f"/events/{event.slug}/registrations/{c.id}").get_data(as_text=True)
    assert 'class="answer"' not in html and "Answers" not in html


def test_the_private_page_shows_the_persons_answers_escaped(client, db, event, questions, people):
    a, b, _c = people
    questions[0].label = 'Diet <b onmouseover="x">'
    db.flush()
    response = client.get(f"/r/{a.manage_token}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<script>alert(1)</script>" not in html and "<b onmouseover" not in html
    assert "Arrives late\n&lt;script&gt;alert(1)&lt;/script&gt;</dd>" in html
    assert "<dt>Diet &lt;b onmouseover=&#34;x&#34;&gt;</dt>" in html
    text = page_text(client.get(f"/r/{b.manage_token}"))
    assert "Vegan" in text and "Vegetarian" not in text and "Arrives late" not in text


# --- the registrations list's filters ----------------------------------------------------


def listed(client, event, **params) -> list[int]:
    response = client.get(f"/events/{event.slug}/registrations", query_string=params)
    assert response.status_code == 200
    return [
        int(n) for n in re.findall(r'data-registration="(\d+)"', response.get_data(as_text=True))
    ]


def test_the_list_filters_on_an_option_of_each_question(app, client, db, event, questions, people):
    diet, workshops, speaker, remarks = questions
    a, b, c = people
    login(client, make_user(app, db, Role.ORGANISER, [event]))
    html = client.get(f"/events/{event.slug}/registrations").get_data(as_text=True)
    assert f'<select id="q_{diet.id}" name="q_{diet.id}">' in html
    assert f'name="q_{remarks.id}"' not in html  # a text is not a filter
    assert sorted(listed(client, event)) == sorted([a.id, b.id, c.id])
    assert listed(client, event, **{f"q_{diet.id}": "Vegetarian"}) == [a.id]
    assert listed(client, event, **{f"q_{diet.id}": "Vegan"}) == [b.id]
    assert listed(client, event, **{f"q_{diet.id}": "None"}) == []
    assert listed(client, event, **{f"q_{workshops.id}": "Water"}) == [a.id]
    assert listed(client, event, **{f"q_{speaker.id}": "no"}) == [b.id]
    # Combined with each other and with the other filters.
    both = {f"q_{diet.id}": "Vegetarian", f"q_{speaker.id}": "yes"}
    assert listed(client, event, **both) == [a.id]
    assert listed(client, event, **both, q="bob") == []
    cancel_registration(db, a)
    assert listed(client, event, **both, status="confirmed") == []
    assert listed(client, event, **both, status="cancelled") == [a.id]
    # The chosen option stays selected, and the pages' links keep it.
    html = client.get(
        f"/events/{event.slug}/registrations", query_string={f"q_{diet.id}": "Vegan"}
    ).get_data(as_text=True)
    assert '<option value="Vegan" selected>Vegan</option>' in html
    assert f"q_{diet.id}=Vegan" in html  # the link to e-mail these people


def test_forged_question_filters_are_ignored(app, client, db, event, questions, people):
    diet, _workshops, _speaker, remarks = questions
    everyone = sorted(r.id for r in people)
    other = make_event(db)
    foreign = add_question(db, other, "Diet", CHOICE, choices=DIETS)
    login(client, make_user(app, db, Role.ORGANISER, [event]))
    for params in [
        {f"q_{diet.id}": "Pizza"},
        {f"q_{diet.id}": "vegetarian"},
        {f"q_{diet.id}": "Vegetarian\x00"},
        {f"q_{diet.id}": "x" * 100_000},
        {f"q_{remarks.id}": "Arrives late"},  # a text question is no filter
        {f"q_{foreign.id}": "Vegetarian"},
        {"q_999999999": "Vegetarian"},
        {"q_99999999999999999999999": "yes"},
        {"q_-1": "yes", "q_abc": "yes", "q_": "yes"},
    ]:
        assert sorted(listed(client, event, **params)) == everyone, params
        filters = Filters.parse(params, event)
        assert filters.answers == {} and filters.args() == {}


def test_the_mailings_write_to_whom_the_question_filter_selects(
    app, client, db, event, questions, people
):
    diet = questions[0]
    a, _b, _c = people
    filters = Filters.parse({f"q_{diet.id}": "Vegetarian"}, event)
    assert filters.args() == {f"q_{diet.id}": "Vegetarian"}
    assert mailings.message_recipients(db, event, filters).ids == [a.id]
    login(client, make_user(app, db, Role.ORGANISER, [event]))
    response = client.get(
        f"/events/{event.slug}/mailings", query_string={f"q_{diet.id}": "Vegetarian"}
    )
    html = response.get_data(as_text=True)
    assert 'data-recipients="1"' in html
    assert f'<select id="q_{diet.id}" name="q_{diet.id}">' in html


# --- the attendees export ----------------------------------------------------------------


def test_the_attendees_export_has_a_column_per_question(db, app_ctx, event, questions, people):
    a, b, c = people
    _name, _type, body = render_export(db, event, "attendees", "csv")
    header, *rows = list(csv.reader(io.StringIO(body.decode("utf-8"))))
    assert header[-4:] == ["Diet", "Workshops", "Speaker", "Remarks"]
    width = len(header)
    by_id = {int(row[0]): row for row in rows}
    assert all(len(row) == width for row in rows)
    assert by_id[a.id][-4:] == [
        "Vegetarian",
        "Water, Air",
        "Yes",
        "Arrives late\n<script>alert(1)</script>",
    ]
    assert by_id[b.id][-4:] == ["Vegan", "", "No", ""]
    assert by_id[c.id][-4:] == ["", "", "", ""]

    _name, _type, body = render_export(db, event, "attendees", "xlsx")
    sheet = load_workbook(io.BytesIO(body)).active
    header, *rows = sheet.iter_rows(values_only=True)
    assert list(header[-4:]) == ["Diet", "Workshops", "Speaker", "Remarks"]
    by_id = {row[0]: row for row in rows}
    assert list(by_id[a.id][-4:-1]) == ["Vegetarian", "Water, Air", "Yes"]
    assert list(by_id[c.id][-4:]) == [None, None, None, None]


def test_an_event_without_questions_keeps_its_columns(db, app_ctx, event):
    person(db, event, "dan")
    _name, _type, body = render_export(db, event, "attendees", "csv")
    header = next(csv.reader(io.StringIO(body.decode("utf-8"))))
    assert header[-1].endswith(": checked in at")


def test_answers_that_look_like_formulas_are_neutralised(db, app_ctx, event):
    remarks = add_question(db, event, "=Remarks", TEXT)
    diet = add_question(db, event, "Diet", CHOICES, choices=["-1", "@SUM(A1)"])
    r = person(db, event, "eve")
    answer(db, r, remarks, '=HYPERLINK("http://evil.example","x")')
    answer(db, r, diet, "-1", "@SUM(A1)")
    body = render_export(db, event, "attendees", "csv").body
    header, row = list(csv.reader(io.StringIO(body.decode("utf-8"))))
    assert header[-2:] == ["'=Remarks", "Diet"]
    assert row[-2:] == ['\'=HYPERLINK("http://evil.example","x")', "'-1, @SUM(A1)"]
    sheet = load_workbook(io.BytesIO(render_export(db, event, "attendees", "xlsx").body)).active
    cells = list(sheet.iter_rows(min_row=2, max_row=2))[0]
    assert [c.value for c in cells[-2:]] == [
        '=HYPERLINK("http://evil.example","x")',
        "-1, @SUM(A1)",
    ]
    assert all(c.data_type == "s" for c in cells[-2:])


def test_the_export_reads_the_answers_by_batch(db, app_ctx, event, questions, monkeypatch):
    """Not one query per row: a query per STREAM_BATCH rows."""
    diet = questions[0]
    made = [person(db, event, f"p{n}") for n in range(7)]
    for n, r in enumerate(made):
        answer(db, r, diet, DIETS[n % 3])
    monkeypatch.setattr(exports, "STREAM_BATCH", 3)
    statements: list[str] = []

    def note(conn, cursor, statement, *args):
        if "FROM answers" in statement:
            statements.append(statement)

    engine = db.get_bind().engine
    sa_event.listen(engine, "before_cursor_execute", note)
    try:
        body = render_export(db, event, "attendees", "csv").body
    finally:
        sa_event.remove(engine, "before_cursor_execute", note)
    rows = list(csv.reader(io.StringIO(body.decode("utf-8"))))[1:]
    assert [row[-4] for row in rows] == [DIETS[n % 3] for n in range(7)]
    assert len(statements) == 3  # 3 + 3 + 1 rows


# --- counts ------------------------------------------------------------------------------


@pytest.fixture
def counted(db, event, questions):
    """Vegetarian: ann (confirmed, present), bob (confirmed), cid (waitlisted), dan
    (cancelled, present before cancelling); Vegan: eve (confirmed, present)."""
    diet, workshops, speaker, _remarks = questions
    ann, bob, cid, dan, eve = (person(db, event, n) for n in ("ann", "bob", "cid", "dan", "eve"))
    for r in (ann, bob, cid, dan):
        answer(db, r, diet, "Vegetarian")
    answer(db, eve, diet, "Vegan")
    answer(db, ann, workshops, "Air", "Water")
    answer(db, bob, workshops, "Air")
    answer(db, eve, speaker, "yes")
    answer(db, bob, speaker, "no")
    answer(db, ann, diet, "Gluten-free")  # an option removed since
    for r in (ann, dan, eve):
        check_in(db, event, actor=None, door="A", code=r.checkin_code)
    cancel_registration(db, dan)
    cid.status = RegistrationStatus.WAITLISTED
    db.flush()
    return event


def test_each_option_is_counted_among_the_confirmed_and_the_present(db, app_ctx, counted):
    found = {
        c.question.label: [(o.text, o.confirmed, o.present) for o in c.options]
        for c in qa.option_counts(db, counted)
    }
    assert found == {
        "Diet": [
            ("Vegetarian", 2, 2),  # ann, bob confirmed; ann and dan checked in
            ("Vegan", 1, 1),
            ("None", 0, 0),
            ("Gluten-free", 1, 1),
        ],
        "Workshops": [("Water", 1, 1), ("Soil", 0, 0), ("Air", 2, 1)],
        "Speaker": [("Yes", 1, 1), ("No", 1, 0)],
    }
    other = make_event(db)
    assert qa.option_counts(db, other) == []


def test_the_statistics_page_the_report_and_the_headcount_show_the_counts(
    app, client, db, counted, questions
):
    login(client, make_user(app, db, Role.ORGANISER, [counted]))
    html = client.get(f"/events/{counted.slug}/stats").get_data(as_text=True)
    diet = questions[0]
    table = html.split(f'id="table-question-{diet.id}"')[1].split("</table>")[0]
    assert (
        '<tr data-option="Vegetarian"><th scope="row">Vegetarian</th>'
        '<td class="num">2</td><td class="num">2</td></tr>' in table
    )
    assert f'id="table-question-{questions[3].id}"' not in html  # a text is not counted
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        tables = csv_tables(render_export(db, counted, "headcount", "csv").body)
        assert tables["Answers"][0] == ["Question", "Answer", "Confirmed", "Present"]
        assert ["Diet", "Vegetarian", "2", "2"] in tables["Answers"]
        assert ["Speaker", "No", "1", "0"] in tables["Answers"]
        book = load_workbook(io.BytesIO(render_export(db, counted, "headcount", "xlsx").body))
        rows = list(book["Answers"].iter_rows(values_only=True))
        assert rows[0] == ("Question", "Answer", "Confirmed", "Present")
        assert ("Workshops", "Air", 2, 1) in rows
        text = pdf_text(render_export(db, counted, "headcount", "pdf").body)
    assert "Answers" in text and "Diet" in text and "Vegetarian 2 2" in text


# --- badges ------------------------------------------------------------------------------


def test_the_badge_prints_the_marked_answers_and_its_digest_follows_them(
    db, app_ctx, event, questions
):
    diet, workshops, speaker, remarks = questions
    workshops.on_badge = True
    r = person(db, event, "ann")
    answer(db, r, speaker, "yes")
    answer(db, r, workshops, "Soil")
    answer(db, r, diet, "Vegan")
    layout = LAYOUTS["a6"]

    def digest() -> str:
        db.expire(r, ["answers"])
        return ahead.digests(event, [r], layout)[0]

    first = digest()
    # An answer that is not printed: the kept badge stands.
    found = db.scalars(select(Answer).where(Answer.question_id == diet.id)).one()
    found.value = "Vegetarian"
    answer(db, r, remarks, "Anything")
    db.flush()
    assert digest() == first
    # A printed one: the badge is rendered again.
    said = db.scalars(select(Answer).where(Answer.question_id == speaker.id)).one()
    said.value = "no"
    db.flush()
    second = digest()
    assert second != first
    answer(db, r, workshops, "Air")
    assert digest() != second
    # Marking a question for the badge makes it stale too.
    diet.on_badge = True
    db.flush()
    assert digest() != second

    from tracker.badges.services import render_badges

    text = pdf_text(render_badges(db, event, [r], "a6"))
    assert "Soil, Air" in text and "Vegetarian" in text and "Speaker" not in text
    said.value = "yes"
    db.flush()
    db.expire(r, ["answers"])
    assert "Speaker" in pdf_text(render_badges(db, event, [r], "a4-8"))


def test_a_change_the_badge_prints_queues_its_event_badges_ahead(db, app_ctx, event, questions):
    """Kept ahead: a new or changed answer to a question on the badge, or a question
    put on it or taken off, queues the event's badges; an answer not printed does not."""
    from tracker.badges import jobs as badge_jobs

    diet, _workshops, speaker, _remarks = questions
    r = person(db, event, "ann")
    sa_event.listen(db, "before_flush", badge_jobs._note_changes)

    def queued() -> set[int]:
        db.flush()
        return db.info.pop(badge_jobs.PENDING_KEY, set())

    try:
        queued()
        answer(db, r, diet, "Vegan")
        assert queued() == set()
        answer(db, r, speaker, "yes")
        assert queued() == {event.id}
        said = db.scalars(select(Answer).where(Answer.question_id == speaker.id)).one()
        said.value = "no"
        assert queued() == {event.id}
        db.delete(said)
        assert queued() == {event.id}
        diet.on_badge = True
        assert queued() == {event.id}
        diet.label = "Regime"
        assert queued() == {event.id}
        speaker.on_badge = False
        assert queued() == {event.id}
        add_question(db, event, "Hidden", TEXT)
        assert queued() == set()
        speaker.label = "Orator"  # no longer on the badge
        assert queued() == set()
    finally:
        sa_event.remove(db, "before_flush", badge_jobs._note_changes)


# --- the door ----------------------------------------------------------------------------


@pytest.fixture
def door_headers(app, db, event):
    return bearer(db, make_user(app, db, Role.DOOR, [event]))


def test_the_door_is_shown_the_at_door_answers_only(
    client, db, event, questions, people, door_headers
):
    a, b, c = people
    response = client.post(
        checkins_url(event), json={"code": a.checkin_code, "door": "Hall"}, headers=door_headers
    )
    assert response.status_code == 201
    assert response.get_json()["registration"]["answers"] == [
        {"label": "Diet", "value": "Vegetarian"}
    ]
    text = response.get_data(as_text=True)
    assert "Arrives late" not in text and "Speaker" not in text and "Water" not in text
    response = client.post(
        checkins_url(event), json={"code": c.checkin_code, "door": "Hall"}, headers=door_headers
    )
    assert response.get_json()["registration"]["answers"] == []
    found = client.get(
        f"/api/v1/events/{event.slug}/registrations?q=person", headers=door_headers
    ).get_json()["registrations"]
    assert {r["id"]: r["answers"] for r in found} == {
        a.id: [{"label": "Diet", "value": "Vegetarian"}],
        b.id: [{"label": "Diet", "value": "Vegan"}],
        c.id: [],
    }
    snapshot = client.get(f"/api/v1/events/{event.slug}/door-snapshot", headers=door_headers)
    people_ = {p["id"]: p for p in snapshot.get_json()["people"]}
    assert people_[a.id]["answers"] == [{"label": "Diet", "value": "Vegetarian"}]
    assert people_[c.id]["answers"] == []
    assert "Arrives late" not in snapshot.get_data(as_text=True)


def test_no_question_at_the_door_gives_an_empty_list(
    client, db, event, questions, people, door_headers
):
    questions[0].at_door = False
    db.flush()
    a = people[0]
    response = client.post(
        checkins_url(event), json={"code": a.checkin_code, "door": "Hall"}, headers=door_headers
    )
    assert response.get_json()["registration"]["answers"] == []
    assert "Vegetarian" not in response.get_data(as_text=True)


# --- personal data -----------------------------------------------------------------------


def test_the_persons_data_holds_their_answers_and_erasure_takes_them(
    client, db, event, questions, people
):
    from tracker.privacy.rights import erase

    a, _b, _c = people
    data = client.get(f"/r/{a.manage_token}/data.json").get_json()
    answers = {a["question"]: (a["answer"], a["values"]) for a in data["answers"]}
    assert data["answers"][0]["question"] == "Diet"
    assert answers["Diet"] == ("Vegetarian", ["Vegetarian"])
    assert answers["Workshops"][0] == "Water, Air"
    assert sorted(answers["Workshops"][1]) == ["Air", "Water"]
    html = client.get(f"/r/{a.manage_token}/data").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert(1)" not in html
    registration_id = a.id
    erase(db, a, actor=None, by="person")
    db.flush()
    assert not db.scalars(select(Answer).where(Answer.registration_id == registration_id)).all()
