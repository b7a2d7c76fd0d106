"""Public event pages."""

from __future__ import annotations

from flask import Blueprint, render_template
from sqlalchemy import select

from tracker.auth.access import shown
from tracker.db import get_db, utcnow
from tracker.events.services import get_event
from tracker.models import Event, Visibility
from tracker.registration.services import availability, registration_is_open

bp = Blueprint("events", __name__)


@bp.route("/")
def index() -> str:
    db = get_db()
    events = db.scalars(
        select(Event)
        .where(Event.ends_at >= utcnow(), Event.visibility == Visibility.PUBLIC)
        .order_by(Event.starts_at)
    ).all()
    return render_template("events/index.html", events=events)


@bp.route("/events/<slug>")
def show(slug: str) -> str:
    db = get_db()
    event = shown(get_event(db, slug))
    return render_template(
        "events/show.html",
        event=event,
        places=availability(db, event),
        is_open=registration_is_open(event),
        now=utcnow(),
    )


@bp.route("/privacy")
def privacy() -> str:
    from tracker.privacy import notice

    return render_template(
        "events/privacy.html",
        version=notice.current_version(),
        controller=notice.controller(),
        retention_days=notice.default_retention_days(),
    )
