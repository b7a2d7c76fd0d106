"""Organiser pages: the events one manages, their sessions, registrations and imports.

Every route needs an organiser or admin account (tracker.auth.access.MANAGE), and an
organiser only reaches the events they manage (event_for): others get 403.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy.orm import Session as DbSession
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response as BaseResponse
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]  # (WTForms 3.2; its stubs lag)

from tracker import audit
from tracker.auth.access import MANAGE, event_for, require
from tracker.auth.views import safe_next
from tracker.checkin.services import SCAN_LABELS
from tracker.db import get_db, utcnow
from tracker.errors import AlreadyRegistered, DomainError
from tracker.events import services as events
from tracker.i18n import lazy_gettext as _l
from tracker.i18n import local_datetime
from tracker.models import (
    Event,
    OrganisationType,
    Registration,
    RegistrationSource,
    Session,
    User,
    Visibility,
)
from tracker.organiser import services
from tracker.organiser.forms import (
    OVERLAP_LABEL,
    VISIBILITY_SHORT_LABELS,
    EventForm,
    NewEventForm,
    NewRegistrationForm,
    OrganiserRegistrationForm,
    SessionForm,
)
from tracker.registration import importer
from tracker.registration import services as registrations
from tracker.registration.forms import (
    MAIL_KIND_LABELS,
    MAIL_STATE_LABELS,
    SOURCE_LABELS,
    STATUS_LABELS,
    TYPE_SHORT_LABELS,
    registration_data,
)

bp = Blueprint("organiser", __name__)

INVALID = 422  # a form sent back with errors: nothing saved
PENDING_IMPORT = "pending_import"
IMPORT_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{20,64}$")
IMPORT_MAX_AGE = 24 * 3600  # uploaded files not imported within a day are removed

TIME_ZONES = (
    "Europe/Paris",
    "America/Cayenne",
    "America/Guadeloupe",
    "America/Martinique",
    "America/Miquelon",
    "Indian/Mayotte",
    "Indian/Reunion",
    "Pacific/Noumea",
    "Pacific/Tahiti",
    "Pacific/Wallis",
    "Europe/Brussels",
    "Europe/London",
    "UTC",
)

FIELD_LABELS = {
    "first_name": _l("First name"),
    "last_name": _l("Last name"),
    "email": _l("E-mail address"),
    "organisation": _l("Organisation"),
    "organisation_type": _l("Type"),
    "job_title": _l("Job title"),
    "sessions": _l("Sessions"),
    "status": _l("Status"),
    "source": _l("Source"),
    "override": _l("Over capacity"),
    "subject": _l("Subject"),
}


def _actor() -> User:
    return current_user._get_current_object()


def _show_domain_error(form: FlaskForm, error: DomainError) -> None:
    field = getattr(form, error.field, None) if error.field else None
    if field is not None and hasattr(field, "errors"):
        field.errors = [*field.errors, error.message]
        if isinstance(error, registrations.SessionsOverlap):
            field.errors.append(_("Tick “%(label)s” to save anyway.", label=OVERLAP_LABEL))
    else:
        flash(str(error.message), "error")


def _common() -> dict[str, Any]:
    return {
        "status_labels": STATUS_LABELS,
        "source_labels": SOURCE_LABELS,
        "mail_kind_labels": MAIL_KIND_LABELS,
        "mail_state_labels": MAIL_STATE_LABELS,
        "type_labels": {t.value: label for t, label in TYPE_SHORT_LABELS.items()},
    }


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
    for t in OrganisationType:
        getattr(form, f"quota_{t.value}").data = (event.type_quotas or {}).get(t.value)


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
        visibility=form.visibility.data,
        badge_job_title=form.badge_job_title.data != "no",
        reminder_days=form.reminder_days.data,
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


# --- registrations ------------------------------------------------------------------------


def _page_number(value: str | None) -> int:
    return int(value) if value and value.isdigit() and len(value) < 7 else 1


@bp.route("/events/<slug>/registrations")
@require(MANAGE)
def registrations_list(slug: str) -> str:
    event = event_for(slug, MANAGE)
    filters = services.Filters.parse(request.args, event)
    page = services.list_registrations(
        get_db(), event, filters, _page_number(request.args.get("page"))
    )
    return render_template(
        "organiser/registrations.html",
        event=event,
        filters=filters,
        page=page,
        mails=services.last_mails(get_db(), [r.id for r in page.items]),
        entrance_checkin=services.entrance_checkin,
        **_common(),
    )


def _session_choices(event: Event, places: registrations.Availability) -> list[SelectChoice]:
    """Every session of the event; a full one says so (an organiser may still choose it
    with the override)."""
    return [
        SelectChoice(
            s.id,
            _("%(title)s (full)", title=s.title) if places.session_left.get(s.id) == 0 else s.title,
        )
        for s in event.sessions
    ]


def _registration_data(form: OrganiserRegistrationForm) -> registrations.RegistrationData:
    return registration_data(form, locale=current_app.config["BABEL_DEFAULT_LOCALE"])


@bp.route("/events/<slug>/registrations/new", methods=["GET", "POST"])
@require(MANAGE)
def new_registration(slug: str) -> BaseResponse | tuple[str, int]:
    event = event_for(slug, MANAGE)
    db = get_db()
    places = registrations.availability(db, event)
    form = NewRegistrationForm()
    form.sessions.choices = _session_choices(event, places)
    existing: Registration | None = None
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                registration = registrations.add_registration(
                    db,
                    event,
                    _registration_data(form),
                    actor=_actor(),
                    source=RegistrationSource.MANUAL,
                    override=form.override.data,
                    allow_overlap=form.allow_overlap.data,
                    send_email=form.send_email.data,
                )
            except AlreadyRegistered as e:
                existing = e.registration
                form.email.errors = [*form.email.errors, e.message]
            except DomainError as e:
                _show_domain_error(form, e)
            else:
                flash(
                    _("%(name)s is registered (confirmed).", name=registration.full_name)
                    if registration.status == registrations.CONFIRMED
                    else _(
                        "%(name)s is registered, on the waitlist: the event is full.",
                        name=registration.full_name,
                    ),
                    "success",
                )
                return redirect(
                    url_for(".registration", slug=event.slug, registration_id=registration.id),
                    code=303,
                )
        status = INVALID
    else:
        status = 200
    return render_template(
        "organiser/registration_new.html",
        event=event,
        form=form,
        places=places,
        existing=existing,
        organisations=registrations.suggest_organisations(db),
    ), status


@bp.route("/events/<slug>/registrations/<int:registration_id>", methods=["GET", "POST"])
@require(MANAGE)
def registration(slug: str, registration_id: int) -> BaseResponse | tuple[str, int]:
    event = event_for(slug, MANAGE)
    db = get_db()
    item = services.get_registration(db, event, registration_id)
    places = registrations.availability(db, event)
    # On POST only what was sent: an empty form must not fall back on the stored object.
    form = OrganiserRegistrationForm(obj=item if request.method == "GET" else None)
    form.sessions.choices = _session_choices(event, places)
    status = 200
    if request.method == "GET":
        form.organisation.data = item.organisation.name
        form.organisation_type.data = item.organisation_type.value
        form.sessions.data = [s.id for s in item.sessions]
    elif form.validate_on_submit():
        try:
            promoted = registrations.edit_registration(
                db,
                item,
                _registration_data(form),
                actor=_actor(),
                override=form.override.data,
                allow_overlap=form.allow_overlap.data,
            )
        except DomainError as e:
            _show_domain_error(form, e)
            status = INVALID
        else:
            flash(_("The registration has been saved."), "success")
            _flash_promoted(promoted)
            return _back_to(item)
    else:
        status = INVALID
    return render_template(
        "organiser/registration.html",
        event=event,
        item=item,
        form=form,
        places=places,
        history=services.history(db, item),
        entrance=services.entrance_checkin(item),
        last_mail=services.last_mails(db, [item.id]).get(item.id),
        organisations=registrations.suggest_organisations(db),
        action_label=audit.action_label,
        scan_labels=SCAN_LABELS,
        field_labels=FIELD_LABELS,
        **_common(),
    ), status


def _back_to(item: Registration) -> BaseResponse:
    return redirect(
        url_for(".registration", slug=item.event.slug, registration_id=item.id), code=303
    )


def _flash_promoted(promoted: list[Registration]) -> None:
    if promoted:
        flash(
            ngettext(
                "%(num)d person was confirmed from the waitlist and e-mailed: %(names)s.",
                "%(num)d people were confirmed from the waitlist and e-mailed: %(names)s.",
                len(promoted),
                names=", ".join(r.full_name for r in promoted),
            ),
            "success",
        )


def _registration_action(
    slug: str, registration_id: int, act: Callable[[DbSession, Registration], None]
) -> BaseResponse:
    """A button on a registration's page: `act` calls the service and says what was
    done; a refusal is its message. Back to the registration's page either way."""
    event = event_for(slug, MANAGE)
    db = get_db()
    item = services.get_registration(db, event, registration_id)
    try:
        act(db, item)
    except DomainError as e:
        flash(str(e.message), "error")
    return _back_to(item)


@bp.route("/events/<slug>/registrations/<int:registration_id>/cancel", methods=["POST"])
@require(MANAGE)
def cancel_registration(slug: str, registration_id: int) -> BaseResponse:
    def cancel(db: DbSession, item: Registration) -> None:
        promoted = registrations.cancel_by_organiser(db, item, actor=_actor())
        flash(_("The registration has been cancelled."), "success")
        _flash_promoted(promoted)

    return _registration_action(slug, registration_id, cancel)


@bp.route("/events/<slug>/registrations/<int:registration_id>/restore", methods=["POST"])
@require(MANAGE)
def restore_registration(slug: str, registration_id: int) -> BaseResponse:
    def restore(db: DbSession, item: Registration) -> None:
        registrations.restore_registration(db, item, actor=_actor())
        if item.status == registrations.CONFIRMED:
            flash(_("The registration has been restored: confirmed."), "success")
        else:
            flash(
                _("The registration has been restored, on the waitlist: the event is full."),
                "warning",
            )

    return _registration_action(slug, registration_id, restore)


@bp.route("/events/<slug>/registrations/<int:registration_id>/confirm", methods=["POST"])
@require(MANAGE)
def confirm_registration(slug: str, registration_id: int) -> BaseResponse:
    def confirm(db: DbSession, item: Registration) -> None:
        override = request.form.get("override") in {"y", "1", "on"}
        registrations.confirm_registration(db, item, actor=_actor(), override=override)
        flash(_("The registration is confirmed, and the person has been e-mailed."), "success")

    return _registration_action(slug, registration_id, confirm)


@bp.route("/events/<slug>/registrations/<int:registration_id>/waitlist", methods=["POST"])
@require(MANAGE)
def waitlist_registration(slug: str, registration_id: int) -> BaseResponse:
    def waitlist(db: DbSession, item: Registration) -> None:
        promoted = registrations.waitlist_registration(db, item, actor=_actor())
        flash(_("The registration has been moved to the end of the waitlist."), "success")
        _flash_promoted(promoted)

    return _registration_action(slug, registration_id, waitlist)


@bp.route("/events/<slug>/registrations/<int:registration_id>/resend", methods=["POST"])
@require(MANAGE)
def resend_email(slug: str, registration_id: int) -> BaseResponse:
    def resend(db: DbSession, item: Registration) -> None:
        services.resend_email(db, item, actor=_actor())
        flash(_("The e-mail has been sent again to %(email)s.", email=item.email), "success")

    return _registration_action(slug, registration_id, resend)


# --- import -------------------------------------------------------------------------------


def _import_folder(*, create: bool = False) -> Path:
    """Where uploaded lists wait between the preview and the import."""
    folder = Path(
        current_app.config.get("IMPORT_FOLDER") or Path(current_app.instance_path) / "imports"
    )
    if create:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder


def _remove_stale_uploads(folder: Path) -> None:
    limit = time.time() - IMPORT_MAX_AGE
    for path in folder.glob("*.upload"):
        try:
            if path.stat().st_mtime < limit:
                path.unlink()
        except OSError:
            pass  # removed meanwhile by another request


def _limit_text() -> str:
    limit = current_app.config.get("MAX_CONTENT_LENGTH") or 0
    return f"{limit / (1024 * 1024):.0f} MB" if limit >= 1024 * 1024 else f"{limit // 1024} kB"


def _import_page(event: Event, status: int = 200, error: object | None = None) -> tuple[str, int]:
    return render_template(
        "organiser/import.html",
        event=event,
        error=error,
        limit=_limit_text(),
        columns=importer.COLUMNS,
        max_rows=importer.MAX_ROWS,
    ), status


@bp.route("/events/<slug>/import", methods=["GET", "POST"])
@require(MANAGE)
def import_upload(slug: str) -> tuple[str, int]:
    event = event_for(slug, MANAGE)
    if request.method == "GET":
        return _import_page(event)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _import_page(event, INVALID, _("Choose a file to import."))
    filename = Path(upload.filename.replace("\\", "/")).name[:200]
    if not filename.lower().endswith(importer.EXTENSIONS):
        return _import_page(event, INVALID, _("Choose a .csv or .xlsx file."))
    content = upload.read()
    if not content:
        return _import_page(event, INVALID, _("The file is empty."))
    try:
        report = importer.import_file(
            get_db(), event, filename, content, actor=_actor(), dry_run=True
        )
    except importer.ImportFileError as e:
        return _import_page(event, INVALID, e.message)

    folder = _import_folder(create=True)
    _remove_stale_uploads(folder)
    token = secrets.token_urlsafe(24)
    (folder / f"{token}.upload").write_bytes(content)
    session[PENDING_IMPORT] = {
        "token": token,
        "event": event.id,
        "filename": filename,
        "sha256": hashlib.sha256(content).hexdigest(),
    }
    return render_template(
        "organiser/import_report.html",
        event=event,
        report=report,
        filename=filename,
        token=token,
        **_common(),
    ), 200


@bp.route("/events/<slug>/import/confirm", methods=["POST"])
@require(MANAGE)
def import_confirm(slug: str) -> BaseResponse | tuple[str, int]:
    event = event_for(slug, MANAGE)
    token = request.form.get("token", "")
    pending = session.get(PENDING_IMPORT) or {}
    path = _import_folder() / f"{token}.upload"
    if (
        not IMPORT_TOKEN_RE.match(token)
        or pending.get("token") != token
        or pending.get("event") != event.id
        or not path.is_file()
    ):
        flash(_("This import has expired or was already done: upload the file again."), "error")
        return redirect(url_for(".import_upload", slug=event.slug), code=303)
    content = path.read_bytes()
    if hashlib.sha256(content).hexdigest() != pending.get("sha256"):
        flash(_("This import has expired or was already done: upload the file again."), "error")
        return redirect(url_for(".import_upload", slug=event.slug), code=303)
    filename = str(pending.get("filename") or "import")
    try:
        report = importer.import_file(
            get_db(),
            event,
            filename,
            content,
            actor=_actor(),
            send_emails=request.form.get("send_emails") in {"y", "1", "on"},
        )
    except importer.ImportFileError as e:
        return _import_page(event, INVALID, e.message)
    session.pop(PENDING_IMPORT, None)
    path.unlink(missing_ok=True)
    return render_template(
        "organiser/import_report.html",
        event=event,
        report=report,
        filename=filename,
        token=None,
        **_common(),
    ), 200


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(_error: RequestEntityTooLarge) -> tuple[str, int]:
    if request.endpoint != "organiser.import_upload":
        return render_template(
            "errors/error.html",
            status=413,
            title=_("Request too large"),
            message=_("What you sent is too large."),
        ), 413
    message = _(
        "The file is larger than %(limit)s: split the list into several files, or save it "
        "as .xlsx, which is smaller.",
        limit=_limit_text(),
    )
    return render_template(
        "errors/error.html", status=413, title=_("The file is too large"), message=message
    ), 413
