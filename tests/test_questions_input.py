"""An event's own questions, as they are asked and answered: the organiser's question
pages and services, the fields `q_<id>` of every registration path (public form,
organiser's forms, private edit, the door's walk-in, the import), and the command line."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.conftest import (
    JSON,
    audit_entries,
    form_data,
    login,
    make_event,
    make_registration,
    make_user,
    page_text,
    registration_data,
    walk_in_data,
    walk_in_url,
)
from tracker.errors import InvalidChoice
from tracker.models import Answer, OrganisationType, Question, Registration, Role
from tracker.questions import services
from tracker.questions.answers import answers_of
from tracker.questions.services import QuestionSpec
from tracker.registration import importer
from tracker.registration.services import register, update_registration

LUNCH = "Déjeuner sur place"
DIET = "Régime alimentaire"
NEEDS = "Besoins d’accessibilité"
TOPICS = "Thèmes qui vous intéressent"
CLUSTER_ONLY = "Numéro d’adhérent du pôle"


def add(db, event, label, kind, **kw):
    return services.add_question(db, event, QuestionSpec(label=label, kind=kind, **kw), actor=None)


@pytest.fixture
def asked(db, event):
    """One question of each kind; one only for clusters, one only for the first round table."""
    rt1 = event.sessions[1].id
    return {
        "lunch": add(db, event, LUNCH, "yes_no", required=True),
        "diet": add(db, event, DIET, "choice", choices=["Aucun", "Végétarien", "Sans gluten"]),
        "needs": add(db, event, NEEDS, "long_text"),
        "topics": add(db, event, TOPICS, "choices", choices=["Export", "Numérique", "Énergie"]),
        "member": add(db, event, CLUSTER_ONLY, "text", types=["cluster"]),
        "rt1": add(db, event, "Question pour la table ronde 1", "text", session_ids=[rt1]),
    }


def stored(db, registration) -> dict[int, list[str]]:
    db.expire_all()
    return answers_of(db, [registration.id]).get(registration.id, {})


def checked(page: str, name: str, value: str) -> bool:
    """Whether the page's input `name` of this value is ticked."""
    for tag in re.findall(r"<input[^>]*>", page):
        if f'name="{name}"' in tag and f'value="{value}"' in tag:
            return "checked" in tag
    raise AssertionError(f"no input {name}={value}")


def by_email(db, event, email) -> Registration:
    db.expire_all()
    return db.scalars(
        select(Registration).where(Registration.event_id == event.id, Registration.email == email)
    ).one()


# --- the questions: services ------------------------------------------------------------


def test_questions_are_added_in_order_validated_and_audited(db, event):
    first = add(db, event, "  Une   question ", "text")
    second = add(db, event, "Couleur", "choice", choices=["Bleu", " ", "Rouge"])
    assert [q.id for q in event.questions] == [first.id, second.id]
    assert first.label == "Une question" and first.field_name == f"q_{first.id}"
    assert second.choices == ["Bleu", "Rouge"]
    [entry] = [
        e for e in audit_entries(db, event, "question.add") if e.changes["question"] == first.id
    ]
    assert entry.changes["label"] == [None, "Une question"]

    refused = {
        "label": QuestionSpec(label="", kind="text"),
        "label ": QuestionSpec(label="x" * 301, kind="text"),
        "label  ": QuestionSpec(label="Deux\nlignes", kind="text"),
        "label   ": QuestionSpec(label="couleur", kind="text"),  # the same label, folded
        "kind": QuestionSpec(label="Sorte", kind="date"),
        "choices": QuestionSpec(label="Vide", kind="choices", choices=[" ", ""]),
        "choices ": QuestionSpec(label="Double", kind="choice", choices=["Oui", "oui"]),
        "types": QuestionSpec(label="Type", kind="text", types=["planet"]),
        "session_ids": QuestionSpec(
            label="Autre", kind="text", session_ids=[make_event(db).sessions[0].id]
        ),
    }
    for field, spec in refused.items():
        with pytest.raises(InvalidChoice) as e:
            services.add_question(db, event, spec, actor=None)
        assert e.value.field == field.strip(), field
    assert len(event.questions) == 2


def test_moving_and_deleting_a_question_deletes_its_answers(db, event, asked):
    person = make_registration(db, event, answers={asked["needs"].id: ["Rampe d’accès"]})
    lunch, diet = asked["lunch"], asked["diet"]
    assert services.move_question(db, diet, -1, actor=None)
    assert [q.id for q in event.questions][:2] == [diet.id, lunch.id]
    assert not services.move_question(db, diet, -1, actor=None)  # already first
    assert services.delete_question(db, asked["needs"], actor=None) == 1
    assert db.scalars(select(Answer).where(Answer.registration_id == person.id)).all() == []
    assert audit_entries(db, event, "question.delete")[-1].changes["answers"] == 1


def test_renaming_an_option_renames_the_answers_and_removing_a_chosen_one_is_refused(
    db, event, asked
):
    diet = asked["diet"]
    person = make_registration(db, event, answers={diet.id: ["Végétarien"]})
    spec = QuestionSpec(label=DIET, kind="choice", choices=["Aucun", "Végétarienne", "Sans gluten"])
    assert services.edit_question(db, diet, spec, actor=None)
    assert stored(db, person)[diet.id] == ["Végétarienne"]
    with pytest.raises(InvalidChoice, match="1 people chose it"):
        services.edit_question(
            db, diet, QuestionSpec(label=DIET, kind="choice", choices=["Aucun"]), actor=None
        )
    # An option nobody chose may go.
    spec = QuestionSpec(label=DIET, kind="choice", choices=["Aucun", "Végétarienne"])
    services.edit_question(db, diet, spec, actor=None)
    assert stored(db, person)[diet.id] == ["Végétarienne"]


def test_narrowing_a_question_removes_the_answers_that_no_longer_apply(db, event, asked):
    needs = asked["needs"]
    region = make_registration(
        db, event, organisation_type=OrganisationType.REGION, answers={needs.id: ["Rampe"]}
    )
    cluster = make_registration(db, event, answers={needs.id: ["Boucle magnétique"]})
    spec = QuestionSpec(label=NEEDS, kind="long_text", types=["cluster"])
    services.edit_question(db, needs, spec, actor=None)
    assert needs.id not in stored(db, region)
    assert stored(db, cluster)[needs.id] == ["Boucle magnétique"]


# --- answers: the services, on both databases -------------------------------------------


def test_answers_are_checked_and_saved_by_the_services(db, event, asked):
    lunch, diet, needs, topics = asked["lunch"], asked["diet"], asked["needs"], asked["topics"]
    member, rt1 = asked["member"], asked["rt1"]
    answers = {
        lunch.id: ["yes"],
        diet.id: ["Sans gluten"],
        needs.id: ["Rampe d’accès\r\net place réservée"],
        topics.id: ["Énergie", "Export", "Export"],
        member.id: ["A-42"],
        rt1.id: ["pas demandé"],  # not registered for that session: ignored
        999_999: ["forged"],  # not a question of this event: ignored
    }
    person = make_registration(db, event, answers=answers)
    assert stored(db, person) == {
        lunch.id: ["yes"],
        diet.id: ["Sans gluten"],
        needs.id: ["Rampe d’accès\net place réservée"],
        topics.id: ["Export", "Énergie"],  # the question's order, once each
        member.id: ["A-42"],
    }
    # Changing type drops the cluster-only answer; a question left out keeps its answer.
    data = registration_data(
        email=person.email,
        organisation_type=OrganisationType.MINISTRY,
        answers={lunch.id: ["no"]},
    )
    update_registration(db, person, data)
    assert stored(db, person) == {
        lunch.id: ["no"],
        diet.id: ["Sans gluten"],
        needs.id: ["Rampe d’accès\net place réservée"],
        topics.id: ["Export", "Énergie"],
    }


def test_a_change_of_answers_alone_is_a_change_of_the_registration(db, event, asked):
    """The door's snapshot pulls those whose row changed since its cursor: a new answer
    moves `updated_at`; the same answers again leave the rows as they were."""
    lunch, diet = asked["lunch"], asked["diet"]
    person = make_registration(db, event, answers={lunch.id: ["yes"], diet.id: ["Aucun"]})
    rows = {a.id for a in person.answers}
    person.updated_at = before = person.updated_at - timedelta(hours=1)
    db.flush()
    services.save_answers(db, person, {lunch.id: ["yes"], diet.id: ["Aucun"]})
    assert person.updated_at == before
    assert {a.id for a in person.answers} == rows  # not deleted and written again
    services.save_answers(db, person, {diet.id: ["Végétarien"]})
    assert person.updated_at > before
    assert stored(db, person) == {lunch.id: ["yes"], diet.id: ["Végétarien"]}


@pytest.mark.parametrize(
    ("key", "values", "message"),
    [
        ("lunch", [], "required"),
        ("lunch", ["peut-être"], "yes or no"),
        ("diet", ["Carnivore"], "options"),
        ("diet", ["Aucun", "Végétarien"], "one answer"),
        ("topics", ["Export", "Espace"], "options"),
        ("member", ["A\x00B"], "Control characters"),
        ("member", ["x" * 301], "At most 300"),
        ("needs", ["ligne\x07"], "Control characters"),
        ("needs", ["x" * 4001], "At most 4000"),
    ],
)
def test_bad_answers_are_refused_and_nothing_is_saved(db, event, asked, key, values, message):
    answers = {asked["lunch"].id: ["yes"], asked[key].id: values}
    with pytest.raises(InvalidChoice, match=message) as e:
        register(db, event, registration_data(answers=answers), send_email=False)
    assert e.value.field == asked[key].field_name
    assert db.scalars(select(Registration).where(Registration.event_id == event.id)).all() == []


# --- the public form, the private edit --------------------------------------------------


def test_the_public_form_asks_every_question_and_saves_the_answers(client, db, event, asked):
    page = client.get(f"/events/{event.slug}/register")
    text = page.get_data(as_text=True)
    for q in asked.values():
        assert f'name="{q.field_name}"' in text
    assert "Only for: Cluster" in text  # without the script, the hint says who is asked
    assert "js/questions.js" in text
    assert 'data-types="cluster"' in text
    assert re.search(rf'<textarea[^>]*name="{asked["needs"].field_name}"', text)

    data = form_data(
        event,
        email="q.public@example.org",
        **{
            asked["lunch"].field_name: "yes",
            asked["diet"].field_name: "Aucun",
            asked["needs"].field_name: "Interprète LSF",
            asked["topics"].field_name: ["Export", "Numérique"],
            asked["member"].field_name: "  P-7  ",
        },
    )
    response = client.post(f"/events/{event.slug}/register", data=data)
    assert response.status_code == 303, page_text(response)
    person = by_email(db, event, "q.public@example.org")
    assert stored(db, person) == {
        asked["lunch"].id: ["yes"],
        asked["diet"].id: ["Aucun"],
        asked["needs"].id: ["Interprète LSF"],
        asked["topics"].id: ["Export", "Numérique"],
        asked["member"].id: ["P-7"],
    }

    # The private page's edit shows them and changes them.
    edit = client.get(f"/r/{person.manage_token}/edit").get_data(as_text=True)
    assert re.search(r'value="Aucun"[^>]*checked|checked[^>]*value="Aucun"', edit)
    assert "Interprète LSF" in edit
    data = form_data(
        event,
        email="q.public@example.org",
        organisation_type="agency",
        **{asked["lunch"].field_name: "no", asked["member"].field_name: "ignored"},
    )
    data.pop("consent")
    response = client.post(f"/r/{person.manage_token}/edit", data=data)
    assert response.status_code == 303, page_text(response)
    # Sent without an answer, an optional question has none; the cluster-only one went.
    assert stored(db, person) == {asked["lunch"].id: ["no"]}


def test_the_public_form_refuses_bad_answers_with_a_message(client, db, event, asked):
    url = f"/events/{event.slug}/register"
    cases = [
        ({}, asked["lunch"], "This field is required."),
        ({asked["diet"].field_name: "Carnivore"}, asked["diet"], "Choose among the options"),
        ({asked["topics"].field_name: ["Export", "<b>x</b>"]}, asked["topics"], "Choose among"),
        ({asked["needs"].field_name: "a\x00b"}, asked["needs"], "Control characters"),
        ({asked["needs"].field_name: "x" * 4001}, asked["needs"], "At most 4000"),
        ({asked["member"].field_name: "a\nb"}, asked["member"], "line breaks"),
    ]
    for extra, question, message in cases:
        data = form_data(event, email="refused@example.org", **extra)
        if question is not asked["lunch"]:
            data[asked["lunch"].field_name] = "yes"
        response = client.post(url, data=data)
        assert response.status_code == 422, (question.label, extra)
        text = page_text(response)
        assert message in text, (question.label, text)
    assert db.scalars(select(Registration).where(Registration.event_id == event.id)).all() == []


def test_a_question_that_does_not_apply_is_neither_required_nor_saved(client, db, event):
    rt1 = event.sessions[1].id
    only = add(db, event, "Menu de la table ronde", "yes_no", required=True, session_ids=[rt1])
    cluster = add(db, event, "Pôle de rattachement", "text", required=True, types=["cluster"])
    url = f"/events/{event.slug}/register"
    data = form_data(
        event,
        email="not.asked@example.org",
        organisation_type="ministry",
        **{only.field_name: "peut-être", cluster.field_name: "x\x00"},
    )
    assert client.post(url, data=data).status_code == 303
    assert stored(db, by_email(db, event, "not.asked@example.org")) == {}
    # Asked: then required.
    data = form_data(event, email="asked@example.org", sessions=[str(rt1)])
    response = client.post(url, data=data)
    assert response.status_code == 422
    assert page_text(response).count("This field is required.") == 2


def test_a_forged_field_of_another_events_question_is_ignored(client, db, event):
    other = make_event(db)
    foreign = add(db, other, "Question d’ailleurs", "text", required=True)
    data = form_data(event, email="forged@example.org", **{foreign.field_name: "Intrus"})
    assert client.post(f"/events/{event.slug}/register", data=data).status_code == 303
    person = by_email(db, event, "forged@example.org")
    assert stored(db, person) == {}
    # And through the service.
    data = registration_data(answers={foreign.id: ["Intrus"]})
    assert stored(db, register(db, event, data, send_email=False)) == {}


# --- the organiser's pages --------------------------------------------------------------


def test_the_organiser_manages_the_questions(app, client, db, event):
    login(client, make_user(app, db, Role.ORGANISER, [event]))
    base = f"/events/{event.slug}/questions"
    assert "No questions yet" in page_text(client.get(base))
    assert f'href="{base}"' in client.get(f"/events/{event.slug}/edit").get_data(as_text=True)
    form = client.get(f"{base}/new").get_data(as_text=True)
    assert 'name="types"' in form and 'name="session_ids"' in form

    refused = client.post(f"{base}/new", data={"label": "Menu", "kind": "choice", "choices": " \n"})
    assert refused.status_code == 422 and "at least one option" in page_text(refused)
    response = client.post(
        f"{base}/new",
        data={
            "label": "Menu",
            "kind": "choice",
            "choices": "Viande\r\nPoisson\r\n\r\nVégétarien",
            "required": "y",
            "types": ["cluster", "region"],
            "session_ids": [str(event.sessions[0].id)],
            "on_badge": "y",
        },
    )
    assert response.status_code == 303
    db.expire_all()
    [menu] = db.get(type(event), event.id).questions
    assert (menu.choices, menu.required, menu.types, menu.on_badge, menu.at_door) == (
        ["Viande", "Poisson", "Végétarien"],
        True,
        ["cluster", "region"],
        True,
        False,
    )
    listing = page_text(client.get(base))
    assert "Menu" in listing and "Only for: Cluster, Region, Plénière" in listing
    edit = client.get(f"{base}/{menu.id}/edit").get_data(as_text=True)
    assert "Viande\nPoisson\nVégétarien" in edit
    response = client.post(
        f"{base}/{menu.id}/edit",
        data={"label": "Menu du midi", "kind": "choices", "choices": "Viande\nPoisson"},
    )
    assert response.status_code == 303
    db.expire_all()
    assert db.get(Question, menu.id).label == "Menu du midi"
    second = add(db, event, "Autre", "text")
    client.post(f"{base}/{second.id}/move", data={"direction": "up"})
    db.expire_all()
    assert [q.label for q in db.get(type(event), event.id).questions] == ["Autre", "Menu du midi"]
    confirm = client.get(f"{base}/{menu.id}/delete")
    assert confirm.status_code == 200 and "Nobody has answered it yet." in page_text(confirm)
    menu_id = menu.id
    assert client.post(f"{base}/{menu_id}/delete").status_code == 303
    db.expire_all()
    assert db.scalars(select(Question.id).where(Question.id == menu_id)).all() == []


def test_question_pages_of_another_event_are_refused(app, client, db, event):
    other = make_event(db)
    question = add(db, other, "Secrète", "text")
    login(client, make_user(app, db, Role.ORGANISER, [event]))
    assert client.get(f"/events/{other.slug}/questions").status_code == 403
    # Another event's question under this event's address: not found.
    assert client.get(f"/events/{event.slug}/questions/{question.id}/edit").status_code == 404
    assert client.post(f"/events/{event.slug}/questions/{question.id}/delete").status_code == 404
    db.expire_all()
    assert db.get(Question, question.id) is not None


def test_the_organiser_adds_and_edits_answers(app, client, db, event, asked):
    login(client, make_user(app, db, Role.ORGANISER, [event]))
    data = form_data(
        event,
        email="by.hand@example.org",
        **{asked["lunch"].field_name: "no", asked["topics"].field_name: ["Numérique"]},
    )
    page = client.get(f"/events/{event.slug}/registrations/new").get_data(as_text=True)
    assert f'name="{asked["needs"].field_name}"' in page
    response = client.post(f"/events/{event.slug}/registrations/new", data=data)
    assert response.status_code == 303, page_text(response)
    person = by_email(db, event, "by.hand@example.org")
    assert stored(db, person) == {asked["lunch"].id: ["no"], asked["topics"].id: ["Numérique"]}
    url = f"/events/{event.slug}/registrations/{person.id}"
    shown = client.get(url).get_data(as_text=True)
    topics = asked["topics"].field_name
    assert checked(shown, topics, "Numérique") and not checked(shown, topics, "Export")
    assert checked(shown, asked["lunch"].field_name, "no")
    data.pop("consent")
    data[asked["needs"].field_name] = "Chien guide"
    data[asked["topics"].field_name] = []
    assert client.post(url, data=data).status_code == 303
    assert stored(db, person) == {asked["lunch"].id: ["no"], asked["needs"].id: ["Chien guide"]}
    # The history says what changed, as stored.
    [added] = audit_entries(db, event, "registration.add")
    assert added.changes[asked["topics"].field_name] == [None, "Numérique"]
    [changed] = audit_entries(db, event, "registration.update")
    assert changed.changes[asked["topics"].field_name] == ["Numérique", None]
    assert changed.changes[asked["needs"].field_name] == [None, "Chien guide"]
    assert asked["lunch"].field_name not in changed.changes


# --- the door's walk-in -------------------------------------------------------------------


@pytest.fixture
def door(client, app, db, event):
    login(client, make_user(app, db, Role.DOOR, [event]))
    return client


def test_the_walk_in_asks_the_required_questions_only(client, db, event, asked, door):
    page = client.get(f"/events/{event.slug}/door").get_data(as_text=True)
    assert f'name="{asked["lunch"].field_name}"' in page
    assert f'name="{asked["diet"].field_name}"' not in page
    refused = client.post(walk_in_url(event), data=walk_in_data(), headers=JSON)
    assert refused.status_code == 422
    assert refused.get_json()["errors"][asked["lunch"].field_name] == ["This field is required."]
    data = walk_in_data(**{asked["lunch"].field_name: "yes", asked["diet"].field_name: "Aucun"})
    response = client.post(walk_in_url(event), data=data, headers=JSON)
    assert response.status_code == 201, response.get_json()
    person = db.get(Registration, response.get_json()["registration"]["id"])
    assert stored(db, person) == {asked["lunch"].id: ["yes"]}  # only what the door asks


# --- the import -------------------------------------------------------------------------


def csv_file(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode()


def test_the_import_reads_a_column_per_question(app, db, event, asked):
    header = (
        "Prénom;Nom;Courriel;Organisme;Type;DÉJEUNER SUR PLACE;regime alimentaire;"
        "Thèmes qui vous intéressent"
    )
    content = csv_file(
        header,
        "Anne;Un;anne@example.org;Vegepolys;cluster;Oui;végétarien;Export, Énergie",
        'Bruno;Deux;bruno@example.org;DGE;ministry;0;;"numérique; export"',
        "Chloé;Trois;chloe@example.org;DGE;ministry;peut-être;Aucun;",
        "Denis;Quatre;denis@example.org;DGE;ministry;vrai;Carnivore;Espace",
        "Élise;Cinq;elise@example.org;DGE;ministry;;Aucun;",
    )
    with app.test_request_context(headers={"Accept-Language": "en"}):
        report = importer.import_file(db, event, "list.csv", content, actor=None)
    assert [r.email for r in report.imported] == ["anne@example.org", "bruno@example.org"]
    assert report.ignored_columns == []
    refused = {r.label: " ".join(r.reasons) for r in report.refused}
    assert "is not yes or no" in refused["chloe@example.org"]
    assert "“Carnivore” is not one of the options" in refused["denis@example.org"]
    assert "“Espace” is not one of the options" in refused["denis@example.org"]
    assert "This field is required." in refused["elise@example.org"]
    anne = by_email(db, event, "anne@example.org")
    assert stored(db, anne) == {
        asked["lunch"].id: ["yes"],
        asked["diet"].id: ["Végétarien"],
        asked["topics"].id: ["Export", "Énergie"],
    }
    bruno = by_email(db, event, "bruno@example.org")
    assert stored(db, bruno) == {
        asked["lunch"].id: ["no"],
        asked["topics"].id: ["Export", "Numérique"],
    }


def test_an_import_without_the_question_columns_still_imports(app, db, event, asked):
    content = csv_file(
        "first_name,last_name,email,organisation,organisation_type",
        "Anne,Un,anne.sans@example.org,Vegepolys,cluster",
    )
    with app.test_request_context(headers={"Accept-Language": "en"}):
        report = importer.import_file(db, event, "list.csv", content, actor=None)
    assert len(report.imported) == 1 and report.refused == []


# --- the command line -------------------------------------------------------------------


def test_the_command_adds_a_question(app, db, event):
    db.commit()
    runner = app.test_cli_runner()
    args = ["question", "add", event.slug, "--label", "Régime", "--kind", "choice"]
    result = runner.invoke(
        args=[
            *args,
            "--choice",
            "Aucun",
            "--choice",
            "Végétarien",
            "--required",
            "--type",
            "cluster",
            "--on-badge",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "Régime" in result.output and "q_" in result.output
    db.expire_all()
    [q] = db.get(type(event), event.id).questions
    assert (q.kind.value, q.choices, q.required, q.types, q.on_badge) == (
        "choice",
        ["Aucun", "Végétarien"],
        True,
        ["cluster"],
        True,
    )
    listed = runner.invoke(args=["question", "list", event.slug])
    assert listed.exit_code == 0 and f"q_{q.id}\tRégime" in listed.output

    for bad in (
        args,  # a choice without options
        ["question", "add", event.slug, "--label", "X", "--kind", "date"],
        ["question", "add", event.slug, "--label", "X\x07", "--kind", "text"],
        ["question", "add", event.slug, "--label", "Y", "--kind", "text", "--type", "planet"],
        ["question", "add", "no-such-event", "--label", "Z", "--kind", "text"],
        ["question", "add", event.slug, "--label", "régime", "--kind", "text"],
    ):
        result = runner.invoke(args=bad)
        assert result.exit_code == 2, (bad, result.output)
    db.expire_all()
    assert len(db.get(type(event), event.id).questions) == 1


def test_labels_and_options_are_shown_as_text(app, client, db, event):
    hostile = '<img src=x onerror="alert(1)">'
    add(db, event, f"Allergies {hostile}", "choices", choices=[f"Option {hostile}", "B&B"])
    page = client.get(f"/events/{event.slug}/register").get_data(as_text=True)
    assert hostile not in page
    assert "&lt;img src=x" in page
    login(client, make_user(app, db, Role.ORGANISER, [event]))
    listing = client.get(f"/events/{event.slug}/questions").get_data(as_text=True)
    assert hostile not in listing and "&lt;img src=x" in listing


def test_a_question_for_a_deleted_session_says_so(app, client, db, event):
    from tracker.organiser.services import delete_session

    workshop = event.sessions[2]
    add(db, event, "Matériel apporté", "text", session_ids=[workshop.id])
    delete_session(db, workshop, actor=None)
    login(client, make_user(app, db, Role.ORGANISER, [event]))
    listing = page_text(client.get(f"/events/{event.slug}/questions"))
    assert "a session since deleted (nobody is asked)" in listing
    assert "Everyone" not in listing
