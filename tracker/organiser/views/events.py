"""The organiser's home, events and their sessions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import (
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import ngettext
from werkzeug.wrappers import Response as BaseResponse

from tracker.auth.access import MANAGE, event_for, require
from tracker.auth.views import safe_next
from tracker.db import get_db, utcnow
from tracker.errors import DomainError
from tracker.events import services as events
from tracker.i18n import local_datetime
from tracker.models import (
    Admission,
    Event,
    OrganisationType,
    Session,
    Visibility,
)
from tracker.organiser import services
from tracker.organiser.forms import (
    VISIBILITY_SHORT_LABELS,
    EventForm,
    NewEventForm,
    SessionForm,
)
from tracker.organiser.views import bp
from tracker.organiser.views.common import (
    INVALID,
    TIME_ZONES,
    _actor,
    _show_domain_error,
)
from tracker.registration import services as registrations

# --- the organiser's home -----------------------------------------------------------


@bp.route("/manage")
@require(MANAGE)
def home() -> str:
    summaries = services.managed_events(get_db(), _actor())
    now = utcnow()
    return render_template(
        "organiser/home.html",
        summaries=summaries,
        now=now,
        is_open={s.event.id: registrations.registration_is_open(s.event, now) for s in summaries},
        visibility_labels=VISIBILITY_SHORT_LABELS,
    )


# --- events ---------------------------------------------------------------------------


def _local(value: datetime | None, tz: str) -> datetime | None:
    """A UTC datetime as the naive local time a date and time field shows."""
    if value is None:
        return None
    return value.astimezone(events.zone(tz)).replace(tzinfo=None)


def _fill_event_form(form: EventForm, event: Event) -> None:
    tz = event.timezone
    form.title.data = event.title
    form.description.data = event.description
    form.venue.data = event.venue
    form.organiser.data = event.organiser
    form.timezone.data = tz
    form.starts_at.data = _local(event.starts_at, tz)
    form.ends_at.data = _local(event.ends_at, tz)
    form.registration_opens_at.data = _local(event.registration_opens_at, tz)
    form.registration_closes_at.data = _local(event.registration_closes_at, tz)
    form.edit_deadline.data = _local(event.edit_deadline, tz)
    form.capacity.data = event.capacity
    form.visibility.data = Visibility(event.visibility).value
    form.badge_job_title.data = "yes" if event.badge_job_title else "no"
    form.reminder_days.data = event.reminder_days
    form.admission.data = Admission(event.admission).value
    form.reserved_for_invitees.data = event.reserved_for_invitees
    for t in OrganisationType:
        getattr(form, f"quota_{t.value}").data = (event.type_quotas or {}).get(t.value)
        getattr(form, f"per_organisation_{t.value}").data = (
            event.per_organisation_types or {}
        ).get(t.value)
    form.per_organisation.data = event.per_organisation


def _typed(
    field: str, typed: datetime | None, tz: str, before: datetime | None, before_tz: str
) -> datetime | None:
    """The time typed in `field`, aware (a time the clocks skip or repeat is refused).
    A time shown to the minute and sent back unchanged keeps its seconds: saving an
    untouched form changes nothing."""
    if (
        before is not None
        and typed is not None
        and tz == before_tz
        and _local(before, tz).replace(second=0, microsecond=0) == typed  # type: ignore[union-attr]
    ):
        return before
    return events.local_to_utc(typed, tz, field=field)


def _event_spec(form: EventForm, slug: str, event: Event | None = None) -> events.EventSpec:
    tz = form.timezone.data or ""  # required: validated before

    def when(name: str) -> datetime | None:
        before = getattr(event, name) if event is not None else None
        return _typed(name, getattr(form, name).data, tz, before, event.timezone if event else tz)

    return events.EventSpec(
        slug=slug,
        title=form.title.data or "",  # required
        description=form.description.data or None,
        venue=form.venue.data or None,
        organiser=form.organiser.data or None,
        timezone=tz,
        starts_at=when("starts_at"),  # type: ignore[arg-type]
        ends_at=when("ends_at"),
        registration_opens_at=when("registration_opens_at"),
        registration_closes_at=when("registration_closes_at"),
        edit_deadline=when("edit_deadline"),
        capacity=form.capacity.data,
        type_quotas=form.quotas(),
        per_organisation=form.per_organisation.data,
        per_organisation_types=form.per_organisation_types(),
        visibility=form.visibility.data,
        badge_job_title=form.badge_job_title.data != "no",
        reminder_days=form.reminder_days.data,
        admission=form.admission.data or Admission.OPEN.value,
        reserved_for_invitees=form.reserved_for_invitees.data or 0,
    )


def _event_page(template: str, status: int = 200, **context: Any) -> tuple[str, int]:
    return render_template(template, time_zones=TIME_ZONES, **context), status


@bp.route("/events/new", methods=["GET", "POST"])
@require(MANAGE)
def new_event() -> BaseResponse | tuple[str, int]:
    form = NewEventForm()
    if request.method == "POST":
        if form.validate_on_submit():
            db = get_db()
            try:
                event = events.create_event(
                    db, _event_spec(form, form.slug.data or ""), actor=_actor()
                )
            except DomainError as e:
                _show_domain_error(form, e)
            else:
                flash(_("The event has been created. Add its sessions below."), "success")
                if event.visibility == Visibility.DRAFT:
                    flash(
                        _(
                            "It is a draft: only its organisers and administrators see it. "
                            "Make it public or unlisted in its settings when it is ready."
                        ),
                        "info",
                    )
                return redirect(url_for(".edit_event", slug=event.slug), code=303)
        return _event_page("organiser/event_form.html", INVALID, form=form, event=None)
    return _event_page("organiser/event_form.html", form=form, event=None)


@bp.route("/events/<slug>/edit", methods=["GET", "POST"])
@require(MANAGE)
def edit_event(slug: str) -> BaseResponse | tuple[str, int]:
    event = event_for(slug, MANAGE)
    db = get_db()
    # Left out of a form sent (a script), a setting keeps its value.
    form = EventForm(
        visibility=Visibility(event.visibility).value,
        badge_job_title="yes" if event.badge_job_title else "no",
        reminder_days=event.reminder_days,
        admission=Admission(event.admission).value,
        reserved_for_invitees=event.reserved_for_invitees,
    )
    if request.method == "GET":
        _fill_event_form(form, event)
    elif form.validate_on_submit():
        try:
            spec = _event_spec(form, event.slug, event)
            saved = services.save_event(db, event, spec, actor=_actor())
        except DomainError as e:
            _show_domain_error(form, e)
        else:
            _flash_saved(saved, event)
            return redirect(url_for(".edit_event", slug=event.slug), code=303)
    status = 200 if request.method == "GET" else INVALID
    return _event_page(
        "organiser/event_form.html",
        status,
        form=form,
        event=event,
        places=registrations.availability(db, event),
        usage={s.id: events.session_usage(db, s) for s in event.sessions},
        is_open=registrations.registration_is_open(event),
    )


def _flash_saved(saved: services.EventSaved, event: Event) -> None:
    if saved.changes:
        flash(_("The event has been saved."), "success")
    else:
        flash(_("Nothing was changed."), "success")
    if saved.promoted:
        flash(
            ngettext(
                "%(num)d person was confirmed from the waitlist and e-mailed.",
                "%(num)d people were confirmed from the waitlist and e-mailed.",
                len(saved.promoted),
            ),
            "success",
        )
    if saved.confirmed_over_capacity is not None:
        flash(
            _(
                "The capacity (%(capacity)d) is below the %(confirmed)d people already "
                "confirmed: nobody loses their place, and new registrations go to the "
                "waitlist until enough people cancel.",
                capacity=event.capacity,
                confirmed=saved.confirmed_over_capacity,
            ),
            "warning",
        )


def _set_registration(slug: str, is_open: bool) -> BaseResponse:
    """One click from the event's settings or the list of events; back where it came from."""
    event = event_for(slug, MANAGE)
    db = get_db()
    target = safe_next(request.form.get("next")) or url_for(".edit_event", slug=event.slug)
    try:
        services.set_registration_open(db, event, is_open, actor=_actor())
    except DomainError as e:
        flash(str(e.message), "error")
        return redirect(target, code=303)
    if is_open:
        flash(
            _(
                "Registration for “%(title)s” is open until %(time)s.",
                title=event.title,
                time=local_datetime(event.registration_closes_at, event.timezone, "medium"),
            ),
            "success",
        )
    else:
        flash(
            _(
                "Registration for “%(title)s” is closed. Door staff can still register walk-ins.",
                title=event.title,
            ),
            "success",
        )
    return redirect(target, code=303)


@bp.route("/events/<slug>/registration/close", methods=["POST"])
@require(MANAGE)
def close_registration(slug: str) -> BaseResponse:
    return _set_registration(slug, False)


@bp.route("/events/<slug>/registration/open", methods=["POST"])
@require(MANAGE)
def open_registration(slug: str) -> BaseResponse:
    return _set_registration(slug, True)


# --- sessions ---------------------------------------------------------------------------


def _session_spec(form: SessionForm, tz: str, item: Session | None = None) -> events.SessionSpec:
    return events.SessionSpec(
        title=form.title.data or "",  # required
        kind=form.kind.data or None,
        room=form.room.data or None,
        starts_at=_typed(
            "starts_at", form.starts_at.data, tz, item.starts_at if item else None, tz
        ),
        ends_at=_typed("ends_at", form.ends_at.data, tz, item.ends_at if item else None, tz),
        capacity=form.capacity.data,
    )


@bp.route("/events/<slug>/sessions/new", methods=["GET", "POST"])
@require(MANAGE)
def new_session(slug: str) -> BaseResponse | tuple[str, int]:
    event = event_for(slug, MANAGE)
    form = SessionForm()
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                services.add_session(
                    get_db(), event, _session_spec(form, event.timezone), actor=_actor()
                )
            except DomainError as e:
                _show_domain_error(form, e)
            else:
                flash(_("The session has been added."), "success")
                return redirect(url_for(".edit_event", slug=event.slug), code=303)
        return render_template(
            "organiser/session_form.html", form=form, event=event, item=None
        ), INVALID
    return render_template("organiser/session_form.html", form=form, event=event, item=None), 200


@bp.route("/events/<slug>/sessions/<int:session_id>/edit", methods=["GET", "POST"])
@require(MANAGE)
def edit_session(slug: str, session_id: int) -> BaseResponse | tuple[str, int]:
    event = event_for(slug, MANAGE)
    item = services.get_session(event, session_id)
    form = SessionForm()
    if request.method == "GET":
        form.title.data = item.title
        form.kind.data = item.kind
        form.room.data = item.room
        form.starts_at.data = _local(item.starts_at, event.timezone)
        form.ends_at.data = _local(item.ends_at, event.timezone)
        form.capacity.data = item.capacity
        return render_template(
            "organiser/session_form.html", form=form, event=event, item=item
        ), 200
    if form.validate_on_submit():
        try:
            changes = services.save_session(
                get_db(), item, _session_spec(form, event.timezone, item), actor=_actor()
            )
        except DomainError as e:
            _show_domain_error(form, e)
        else:
            flash(
                _("The session has been saved.") if changes else _("Nothing was changed."),
                "success",
            )
            return redirect(url_for(".edit_event", slug=event.slug), code=303)
    return render_template(
        "organiser/session_form.html", form=form, event=event, item=item
    ), INVALID


@bp.route("/events/<slug>/sessions/<int:session_id>/move", methods=["POST"])
@require(MANAGE)
def move_session(slug: str, session_id: int) -> BaseResponse:
    event = event_for(slug, MANAGE)
    item = services.get_session(event, session_id)
    offset = -1 if request.form.get("direction") == "up" else 1
    services.move_session(get_db(), item, offset, actor=_actor())
    return redirect(url_for(".edit_event", slug=event.slug) + "#sessions", code=303)


@bp.route("/events/<slug>/sessions/<int:session_id>/delete", methods=["POST"])
@require(MANAGE)
def delete_session(slug: str, session_id: int) -> BaseResponse:
    event = event_for(slug, MANAGE)
    item = services.get_session(event, session_id)
    title = item.title
    try:
        services.delete_session(get_db(), item, actor=_actor())
    except DomainError as e:
        flash(str(e.message), "error")
    else:
        flash(_("The session “%(title)s” has been deleted.", title=title), "success")
    return redirect(url_for(".edit_event", slug=event.slug) + "#sessions", code=303)
