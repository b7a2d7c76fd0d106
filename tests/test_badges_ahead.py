"""Badges rendered ahead by the worker when a person registers or their badge data
changes, so that a batch is only the imposition of kept pages."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from flask import Flask
from flask_babel import force_locale
from sqlalchemy import delete, event, select

from tests.conftest import make_event, make_registration, pdf_text
from tracker.badges import jobs as badge_jobs
from tracker.badges.services import render_badges
from tracker.models import BadgePage, BadgeRender, Event, Registration, RegistrationStatus


@pytest.fixture
def ahead(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    """The app with badges kept ahead, its jobs run as soon as they are queued."""
    monkeypatch.setitem(app.config, "BADGES_AHEAD", True)
    monkeypatch.setitem(app.config, "BADGES_AHEAD_DELAY", 0)
    badge_jobs.init_app(app)
    factory = app.extensions["db"].sessionmaker
    slugs: list[str] = []
    app.extensions["test_slugs"] = slugs
    yield app
    event.remove(factory, "before_flush", badge_jobs._note_changes)
    event.remove(factory, "after_soft_rollback", badge_jobs._forget_changes)
    with factory.begin() as db:
        db.execute(delete(Event).where(Event.slug.in_(slugs)))


def kept(app: Flask, registration_id: int) -> list[tuple[str, str, int, str]]:
    with app.extensions["db"].sessionmaker() as db:
        return [
            tuple(row)
            for row in db.execute(
                select(
                    BadgePage.layout, BadgePage.locale, BadgePage.render_id, BadgePage.digest
                ).where(BadgePage.registration_id == registration_id)
            )
        ]


def test_a_registration_is_kept_ready_and_rendered_again_when_it_changes(ahead, caplog):
    factory = ahead.extensions["db"].sessionmaker
    with ahead.app_context(), factory.begin() as db:
        ev = make_event(db)
        ahead.extensions["test_slugs"].append(ev.slug)
        registration = make_registration(db, ev, first_name="Anne", last_name="Roy")
        rid, event_id = registration.id, ev.id
    # Committed: the worker (here at once) rendered the badge on a4-8, in French.
    ((layout, locale, render_id, digest),) = kept(ahead, rid)
    assert (layout, locale) == ("a4-8", "fr")

    with ahead.app_context(), factory.begin() as db:
        db.get(Registration, rid).last_name = "Roy-Martin"
    ((_, _, render_again, digest_again),) = kept(ahead, rid)
    assert digest_again != digest and render_again != render_id
    with ahead.app_context(), factory() as db:  # the old render went with its page
        assert db.get(BadgeRender, render_id) is None

    # A change the badge does not print renders nothing.
    with ahead.app_context(), factory.begin() as db:
        db.get(Registration, rid).email = "anne.roy@example.org"
    assert kept(ahead, rid)[0][3] == digest_again

    # The batch finds the badge kept: no rendering, the new name printed.
    with ahead.test_request_context(), force_locale("fr"), factory() as db:
        ev = db.get(Event, event_id)
        with caplog.at_level(logging.INFO, logger="tracker.pdf"):
            caplog.clear()  # (the renderings above, when INFO is logged already)
            pdf = render_badges(db, ev, [db.get(Registration, rid)], "a4-8")
        assert not [r for r in caplog.records if hasattr(r, "pdf_peaks_mib")]
        assert "Roy-Martin" in pdf_text(pdf)


def test_an_event_change_renders_its_badges_again_in_every_layout_printed(ahead):
    factory = ahead.extensions["db"].sessionmaker
    with ahead.app_context(), factory.begin() as db:
        ev = make_event(db)
        ahead.extensions["test_slugs"].append(ev.slug)
        one = make_registration(db, ev)
        waiting = make_registration(db, ev)
        waiting.status = RegistrationStatus.WAITLISTED
        ids, event_id = (one.id, waiting.id), ev.id
    assert kept(ahead, ids[1]) == []  # only confirmed people get badges
    with ahead.test_request_context(), force_locale("en"), factory.begin() as db:
        render_badges(db, db.get(Event, event_id), [db.get(Registration, ids[0])], "cr80")
    before = {(row[0], row[1]): row[3] for row in kept(ahead, ids[0])}
    assert set(before) == {("a4-8", "fr"), ("cr80", "en")}
    with ahead.app_context(), factory.begin() as db:
        db.get(Event, event_id).title = "Atelier renommé"
    after = {(row[0], row[1]): row[3] for row in kept(ahead, ids[0])}
    assert set(after) == set(before)
    assert all(after[key] != before[key] for key in before)
