"""The cap of confirmed people per organisation: one more scope of the capacity rule
(tracker.registration.capacity), on every path that confirms someone."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import delete, func, select, update

from tests.conftest import (
    assert_counters_exact,
    event_form,
    form_data,
    make_event,
    page_text,
    race,
    registration_data,
)
from tracker.door.services import EventFull, WalkInData, register_walk_in
from tracker.errors import InvalidChoice
from tracker.models import (
    Event,
    OrganisationType,
    PlaceCount,
    Registration,
    RegistrationSource,
    RegistrationStatus,
)
from tracker.registration import capacity, importer
from tracker.registration import services as registrations

CONFIRMED = RegistrationStatus.CONFIRMED
WAITLISTED = RegistrationStatus.WAITLISTED
REASON = "No places are left for your organisation (at most 2 per organisation)."


def person(organisation: str = "Vegepolys", type_: str = "cluster", **overrides: object):
    return registration_data(
        organisation=organisation, organisation_type=OrganisationType(type_), **overrides
    )


def test_the_third_of_an_organisation_waits_and_is_told_why(db, app_ctx):
    event = make_event(db, per_organisation=2)
    first = registrations.register(db, event, person())
    second = registrations.register(db, event, person(" VÉGÉPOLYS"))  # the same one
    third = registrations.register_explained(db, event, person("vegepolys"))
    other = registrations.register(db, event, person("Atlanpole"))
    assert [r.status for r in (first, second, third.registration, other)] == [
        CONFIRMED,
        CONFIRMED,
        WAITLISTED,
        CONFIRMED,
    ]
    assert third.full is not None and third.full.limit is capacity.Limit.ORGANISATION
    assert str(third.full.reason) == REASON
    organisation = first.organisation_id
    assert capacity.stored_counts(db, event)[capacity.organisation_scope(organisation)] == 2


def test_a_cap_per_type_overrides_the_general_one(db, app_ctx):
    event = make_event(db, per_organisation=2, per_organisation_types={"cluster": 1})
    assert registrations.register(db, event, person()).status == CONFIRMED
    assert registrations.register(db, event, person()).status == WAITLISTED
    ministry = [registrations.register(db, event, person("DGE", "ministry")) for _ in range(3)]
    assert [r.status for r in ministry] == [CONFIRMED, CONFIRMED, WAITLISTED]
    only_types = make_event(db, per_organisation_types={"ministry": 0})
    assert registrations.register(db, only_types, person("DGE", "ministry")).status == WAITLISTED
    assert registrations.register(db, only_types, person()).status == CONFIRMED


def test_promotion_passes_over_a_full_organisation_for_the_next_one(db, app_ctx):
    event = make_event(db, capacity=3, per_organisation=2)
    registrations.register(db, event, person())
    registrations.register(db, event, person())
    atlanpole = registrations.register(db, event, person("Atlanpole"))
    over_cap = registrations.register(db, event, person())  # event full, org full too
    next_one = registrations.register(db, event, person("Atlanpole"))
    assert (over_cap.status, next_one.status) == (WAITLISTED, WAITLISTED)
    promoted = registrations.cancel_registration(db, atlanpole)
    assert promoted == [next_one]
    assert over_cap.status == WAITLISTED  # keeps its place in the queue


def test_promotion_gives_the_place_once_the_organisation_has_room(db, app_ctx):
    event = make_event(db, per_organisation=1)
    first = registrations.register(db, event, person())
    waiting = registrations.register(db, event, person())
    assert waiting.status == WAITLISTED
    assert registrations.cancel_registration(db, first) == [waiting]
    assert waiting.status == CONFIRMED


def test_changing_organisation_is_checked_against_the_new_one(db, app_ctx):
    event = make_event(db, per_organisation=2)
    registrations.register(db, event, person())
    registrations.register(db, event, person())
    mover = registrations.register(db, event, person("Atlanpole"))
    data = person(email=mover.email)
    with pytest.raises(InvalidChoice) as refused:
        registrations.update_registration(db, mover, data)
    assert refused.value.field == "organisation"
    assert str(refused.value.message) == REASON
    # The organiser is refused too, unless they go over the cap.
    with pytest.raises(registrations.NoRoom) as organiser_refusal:
        registrations.edit_registration(db, mover, data, actor=None)
    assert "Allow going over capacity" in str(organiser_refusal.value.message)
    registrations.edit_registration(db, mover, data, actor=None, override=True)
    assert mover.organisation.name == "Vegepolys" and mover.status == CONFIRMED
    assert capacity.stored_counts(db, event) == capacity.fresh_counts(db, event)
    assert (
        capacity.places(db, event).confirmed(capacity.organisation_scope(mover.organisation_id))
        == 3
    )


def test_a_change_of_type_meets_the_new_types_cap(db, app_ctx):
    event = make_event(db, per_organisation=3, per_organisation_types={"agency": 1})
    first = registrations.register(db, event, person("Bpifrance", "cluster"))
    registrations.register(db, event, person("Bpifrance", "cluster"))
    data = person("Bpifrance", "agency", email=first.email)
    with pytest.raises(InvalidChoice):
        registrations.update_registration(db, first, data)
    # Keeping organisation and type: a lowered cap takes nobody's place.
    event.per_organisation = 1
    db.flush()
    registrations.update_registration(
        db, first, person("Bpifrance", "cluster", email=first.email, job_title="Directrice")
    )
    assert first.job_title == "Directrice" and first.status == CONFIRMED


def test_organisers_confirm_restore_and_add_within_the_cap_unless_told(db, app_ctx):
    event = make_event(db, per_organisation=2)
    a = registrations.register(db, event, person())
    registrations.register(db, event, person())
    waiting = registrations.register(db, event, person())
    with pytest.raises(registrations.NoRoom) as refused:
        registrations.confirm_registration(db, waiting, actor=None)
    assert str(refused.value.message).startswith(REASON)
    registrations.confirm_registration(db, waiting, actor=None, override=True)
    assert waiting.status == CONFIRMED
    registrations.cancel_by_organiser(db, a, actor=None)
    registrations.restore_registration(db, a, actor=None)
    assert a.status == WAITLISTED  # the organisation has its 2 places
    added = registrations.add_registration(
        db, event, person(), actor=None, source=RegistrationSource.MANUAL
    )
    assert added.status == WAITLISTED
    over = registrations.add_registration(
        db, event, person(), actor=None, source=RegistrationSource.MANUAL, override=True
    )
    assert over.status == CONFIRMED


def test_the_door_refuses_over_the_cap_unless_overridden(db, app_ctx):
    event = make_event(db, per_organisation=1)
    registrations.register(db, event, person("Région Bretagne", "region"))
    walk_in = WalkInData("Paul", "Durand", "region bretagne", OrganisationType.REGION)
    with pytest.raises(EventFull) as refused:
        register_walk_in(db, event, walk_in, actor=None, door="A")
    assert str(refused.value.message).startswith(
        "No places are left for your organisation (at most 1 per organisation)."
    )
    done = register_walk_in(db, event, walk_in, actor=None, door="A", override=True)
    assert done.registration.status == CONFIRMED


def test_an_import_waitlists_beyond_the_cap(db, app_ctx):
    event = make_event(db, per_organisation=2)
    rows = [f"Anne,Moreau {i},anne.{i}@dge.example,DGE,ministry" for i in range(3)]
    content = "\n".join(["first_name,last_name,email,organisation,organisation_type", *rows])
    importer.import_file(db, event, "list.csv", content.encode(), actor=None)
    statuses = db.scalars(
        select(Registration.status)
        .where(Registration.event_id == event.id)
        .order_by(Registration.id)
    ).all()
    assert statuses == [CONFIRMED, CONFIRMED, WAITLISTED]


def test_recompute_counts_the_organisations_again(db, app_ctx):
    event = make_event(db)
    people = [registrations.register(db, event, person()) for _ in range(2)]
    scope = capacity.organisation_scope(people[0].organisation_id)
    db.execute(
        update(PlaceCount)
        .where(PlaceCount.event_id == event.id, PlaceCount.scope == scope)
        .values(confirmed=9)
    )
    assert capacity.recompute(db, event) == {scope: (9, 2)}


def test_the_pages_say_the_cap_and_why_someone_waits(client, db):
    event = make_event(db, per_organisation=2, per_organisation_types={"cluster": 1})
    assert "2 places per organisation; 1 place per cluster" in page_text(
        client.get(f"/events/{event.slug}")
    )
    form = page_text(client.get(f"/events/{event.slug}/register"))
    assert "At most 2 places per organisation; 1 place per cluster" in form
    first = client.post(f"/events/{event.slug}/register", data=form_data(event))
    assert first.status_code == 303
    second = client.post(
        f"/events/{event.slug}/register", data=form_data(event), follow_redirects=True
    )
    page = page_text(second)
    assert 'data-status="waitlisted"' in page
    assert (
        "No places are left for your organisation (at most 1 per organisation). You are on "
        "the waitlist." in page
    )


def test_the_settings_page_sets_the_cap(client, db, event, as_organiser):
    data = event_form(per_organisation="2", per_organisation_cluster="1")
    response = as_organiser.post(f"/events/{event.slug}/edit", data=data)
    assert response.status_code == 303
    db.expire_all()
    saved = db.get(Event, event.id)
    assert (saved.per_organisation, saved.per_organisation_types) == (2, {"cluster": 1})
    page = page_text(as_organiser.get(f"/events/{event.slug}/edit"))
    assert 'name="per_organisation" type="number" value="2"' in page or 'value="2"' in page
    for bad in ("-1", "deux", "1" * 30, "2\x00"):
        refused = as_organiser.post(
            f"/events/{event.slug}/edit", data=event_form(per_organisation=bad)
        )
        assert refused.status_code == 422, bad
    db.expire_all()
    assert db.get(Event, event.id).per_organisation == 2


def test_event_create_takes_the_cap(app):
    from tracker.cli import event_create

    runner = app.test_cli_runner()
    args = [
        "cli-per-organisation",
        "--title",
        "Atelier",
        "--starts",
        "2030-12-10T09:00",
        "--per-organisation",
        "2",
        "--per-organisation-type",
        "ministry=1",
    ]
    try:
        result = runner.invoke(event_create, args)
        assert result.exit_code == 0, result.output
        with app.extensions["db"].sessionmaker() as db:
            event = db.scalar(select(Event).where(Event.slug == "cli-per-organisation"))
            assert event.per_organisation == 2
            assert event.per_organisation_types == {"ministry": 1}
        for bad, message in (
            (["--per-organisation", "-1"], "--per-organisation"),
            (["--per-organisation-type", "pirates=3"], "per organisation for pirates"),
            (["--per-organisation-type", "cluster"], "--per-organisation-type"),
        ):
            base = ["ok-slug", "--title", "x", "--starts", "2030-01-01T09:00"]
            refused = runner.invoke(event_create, [*base, *bad])
            assert refused.exit_code != 0 and message in refused.output, refused.output
    finally:
        with app.extensions["db"].sessionmaker.begin() as db:
            db.execute(delete(Event).where(Event.slug == "cli-per-organisation"))


# --- exactness under real concurrent connections ---------------------------------------


@pytest.mark.concurrency
def test_200_concurrent_registrations_of_one_organisation_against_a_cap_of_2(app, committed_event):
    factory = app.extensions["db"].sessionmaker
    event_id, _ = committed_event(per_organisation=2)

    def job(i):
        with factory.begin() as db:
            event = db.get(Event, event_id)
            data = person(email=f"racer{i}@vegepolys.example")
            return registrations.register(db, event, data).status

    statuses = Counter(race(app, 200, 20, job))
    assert statuses == {"confirmed": 2, "waitlisted": 198}
    with factory() as db:
        stored = dict(
            db.execute(
                select(Registration.status, func.count())
                .where(Registration.event_id == event_id)
                .group_by(Registration.status)
            ).all()
        )
    assert stored == {"confirmed": 2, "waitlisted": 198}
    assert_counters_exact(factory, event_id)
