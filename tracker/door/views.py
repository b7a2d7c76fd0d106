"""The door screen: one input to search, scan and check in; walk-ins; live counters.

Check-in, undo, search and the counters go through the JSON API (/api/v1) with the
logged-in session and its CSRF token; walk-ins are posted here. Both call the same
services as every other way in.
"""

from __future__ import annotations

import json
from typing import Any

from flask import (
    Blueprint,
    Response,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from werkzeug.wrappers import Response as BaseResponse

from tracker.api.answers import answer_of, checkin_answer
from tracker.auth.access import DOOR, check, event_for, require
from tracker.checkin import services as checkin
from tracker.db import get_db, keep_writes_on_refusal
from tracker.door import offline, services
from tracker.door.forms import UndoForm, WalkInForm
from tracker.errors import AlreadyRegistered, DomainError, InvalidChoice
from tracker.i18n import lazy_gettext as _l
from tracker.models import Event, OrganisationType
from tracker.questions.forms import answers_of_form, with_questions
from tracker.registration.forms import TYPE_SHORT_LABELS
from tracker.registration.organisations import suggest_organisations

bp = Blueprint("door", __name__)

INVALID = 422


def _wants_json() -> bool:
    return (
        request.accept_mimetypes.best_match(["text/html", "application/json"]) == "application/json"
    )


def _messages() -> dict[str, str]:
    """What door.js shows, in the reader's language."""
    return {
        "door": _("Door"),
        "checking": _("Checking in…"),
        "checked_in": _("Checked in"),
        "walk_in_registered": _("New walk-in registration"),
        "already": _("Already checked in"),
        "already_detail": _("at %(time)s · door “%(door)s”", time="{time}", door="{door}"),
        "by": _("by %(who)s", who="{who}"),
        # TRANSLATORS: an answer shown at the door, under the name: "Diet: vegetarian"
        "answer": _("%(question)s: %(answer)s", question="{label}", answer="{value}"),
        "unknown": _("Unknown code"),
        "unknown_detail": _("This code is not on this event’s list."),
        "other_event": _("Badge of another event"),
        "other_event_detail": _("This badge was issued for another event."),
        "waitlisted": _("On the waitlist: not confirmed"),
        "waitlisted_detail": _("This person has no confirmed place."),
        "cancelled": _("Registration cancelled"),
        "cancelled_detail": _("This registration was cancelled."),
        "refused_advice": _("Do not let this person in yet: ask an organiser."),
        "undone": _("Check-in undone"),
        "not_checked_in": _("Was not checked in"),
        "network": _("No answer from the server"),
        "network_detail": _("Nothing was recorded. Check the connection and scan again."),
        "error": _("Not recorded"),
        "logged_out": _("You are logged out: log in again."),
        "check_in": _("Check in"),
        "check_in_person": _("Check in %(name)s", name="{name}"),
        "checked_in_at": _("checked in %(time)s", time="{time}"),
        "no_results": _("Nobody found. Check the spelling, or register a walk-in."),
        "several": _("Several people match: tap the right one."),
        "searching": _("Searching…"),
        "results": _("%(n)s found", n="{n}"),
        "scope_entrance": _("Event entrance"),
        "scope_session": _("Session: %(title)s", title="{title}"),
        "not_in_session": _("Not registered for this session"),
        "not_in_session_detail": _("Let them in anyway if there is room."),
        "over_capacity": _("Registered over capacity"),
        "camera_insecure": _(
            "The camera needs a secure (HTTPS) connection. Use the search or a scanner."
        ),
        "camera_denied": _("The camera could not be opened: allow it in the browser settings."),
        "camera_unsupported": _("This browser cannot read QR codes with the camera."),
        "camera_not_a_code": _("This QR code is not a check-in code."),
        "status_waitlisted": _("waitlisted"),
        "status_cancelled": _("cancelled"),
        "type_cluster": str(TYPE_SHORT_LABELS[OrganisationType.CLUSTER]),
        "type_ministry": str(TYPE_SHORT_LABELS[OrganisationType.MINISTRY]),
        "type_region": str(TYPE_SHORT_LABELS[OrganisationType.REGION]),
        "type_agency": str(TYPE_SHORT_LABELS[OrganisationType.AGENCY]),
        "type_other": str(TYPE_SHORT_LABELS[OrganisationType.OTHER]),
        "online": _("Online"),
        "offline_since": _("Offline since %(time)s", time="{time}"),
        "waiting": _("%(n)s check-ins waiting to be sent", n="{n}"),
        "last_sync": _("last sync %(time)s", time="{time}"),
        "never_synced": _("not synced yet"),
        "offline_queued": _("Offline: recorded on this device, sent when the network is back."),
        "refused_item": _(
            "Not recorded: %(name)s, scanned %(time)s (%(reason)s)",
            name="{name}",
            time="{time}",
            reason="{reason}",
        ),
        "dismiss": _("Dismiss"),
        "walk_in_offline": _("No network: a walk-in can only be registered online."),
        "not_arrived_count": _("(%(n)s)", n="{n}"),
    }


# The badge layouts a door may print on, as its printer takes them (remembered per device).
BADGE_LAYOUTS = (
    ("a4-8", _l("A4 sheet (one badge)")),
    ("a6", _l("A6 card")),
    ("cr80", _l("CR80 card (bank card size)")),
)


def _page(event: Event, form: WalkInForm, status: int = 200) -> Response:
    db = get_db()
    body = render_template(
        "door/door.html",
        event=event,
        form=form,
        counters=checkin.counters(db, event),
        organisations=suggest_organisations(db),
        messages=_messages(),
        locale=str(get_locale()),
        badge_layouts=[(value, str(label)) for value, label in BADGE_LAYOUTS],
    )
    return Response(body, status=status)


@bp.route("/door")
@require(DOOR)
def index() -> Response:
    """The door screens of the account's events (where a door account with several
    events, or none, lands after logging in)."""
    user = check(DOOR)
    body = render_template("door/index.html", events=services.door_events(get_db(), user))
    return Response(body)


@bp.route("/events/<slug>/door")
@require(DOOR)
def door(slug: str) -> Response:
    event = event_for(slug, DOOR)
    return _page(event, _walk_in_form(event)())


@bp.route("/events/<slug>/door/manifest.webmanifest")
@require(DOOR)
def manifest(slug: str) -> Response:
    """The door screen as an installable web app."""
    event = event_for(slug, DOOR)
    page = url_for(".door", slug=event.slug)
    body = offline.manifest(f"{_('Door')} · {event.title}", _("Door"), page)
    return Response(json.dumps(body), mimetype="application/manifest+json")


@bp.route("/events/<slug>/door/sw.js")
@require(DOOR)
def service_worker(slug: str) -> Response:
    """The service worker that keeps the door screen's files for a reload offline. It
    lives under the page's address, and may control the page itself."""
    event = event_for(slug, DOOR)
    page = url_for(".door", slug=event.slug)
    script = offline.service_worker(page, url_for(".manifest", slug=event.slug))
    response = Response(script, mimetype="text/javascript")
    response.headers["Service-Worker-Allowed"] = page
    return response


def _walk_in_form(event: Event) -> type[WalkInForm]:
    """The walk-in form, with the event's required questions (fields `q_<id>`)."""
    return with_questions(WalkInForm, [q for q in event.questions if q.required])


def _errors(form: WalkInForm) -> dict[str, list[str]]:
    return {name: [str(e) for e in errors] for name, errors in form.errors.items()}


def _json_error(
    status: int, result: str, message: object, errors: dict[str, list[str]], **extra: Any
) -> tuple[Response, int]:
    body = {"result": result, "message": str(message), "errors": errors, **extra}
    return jsonify(body), status


@bp.route("/events/<slug>/door/walk-in", methods=["POST"])
@require(DOOR)
def walk_in(slug: str) -> BaseResponse | tuple[Response, int]:
    event = event_for(slug, DOOR)
    actor = check(DOOR)
    wants_json = _wants_json()
    form = _walk_in_form(event)()
    if not form.validate_on_submit():
        if wants_json:
            errors = _errors(form)
            first = next(iter(errors.values()), [_("Check the form.")])[0]
            return _json_error(INVALID, "invalid", first, errors)
        return _page(event, form, INVALID)

    data = services.WalkInData(
        first_name=form.first_name.data,
        last_name=form.last_name.data,
        organisation=form.organisation.data,
        organisation_type=OrganisationType(form.organisation_type.data),
        email=form.email.data or None,
        locale=str(get_locale()),
        answers=answers_of_form(form, event.questions),
    )
    db = get_db()
    try:
        done = services.register_walk_in(
            db,
            event,
            data,
            actor=actor,
            door=form.door.data or "",
            session_id=form.session.data or None,
            override=bool(form.override.data),
            nonce=form.nonce.data or None,
            answer=checkin_answer,
        )
    except AlreadyRegistered as e:
        message = _("This e-mail address is already registered: check this person in instead.")
        if wants_json:
            return _json_error(
                409,
                "already_registered",
                message,
                {"email": [message]},
                registration=checkin.describe(e.registration),
            )
        form.email.errors = [message]
        return _page(event, form, 409)
    except DomainError as e:
        field = e.field if e.field in form._fields else None
        if wants_json:
            return _json_error(e.status, e.code, e.message, {field or "form": [str(e.message)]})
        if field is not None:
            form[field].errors = [*form[field].errors, e.message]
        else:
            flash(str(e.message), "error")
        return _page(event, form, e.status)

    registration = done.registration
    if wants_json:
        body = {
            **answer_of(done.checkin).body,
            "walk_in": True,
            "over_capacity": done.over_capacity,
            "registration": checkin.describe(registration),
        }
        return jsonify(body), 201
    flash(
        _("%(name)s is registered and checked in.", name=registration.full_name),
        "success",
    )
    return redirect(url_for(".door", slug=event.slug), code=303)


def _form_id(name: str) -> int | None:
    raw = (request.form.get(name) or "").strip()
    if not raw:
        return None
    if not raw.isascii() or not raw.isdigit() or len(raw) > 10:
        raise InvalidChoice(_("This request could not be completed."), field=name)
    return int(raw)


@bp.route("/events/<slug>/door/undo", methods=["POST"])
@require(DOOR)
@keep_writes_on_refusal
def undo(slug: str) -> tuple[Response, int]:
    """Undo a check-in made from the search, whose badge code the screen never saw
    (the API's DELETE .../checkins/{code} takes a code; the search does not give it).
    The same service and the same answer as the API."""
    event = event_for(slug, DOOR)
    actor = check(DOOR)
    form = UndoForm()
    if not form.validate_on_submit():
        errors = _errors(form)
        first = next(iter(errors.values()), [_("This request could not be completed.")])[0]
        return _json_error(INVALID, "invalid", first, errors)
    try:
        registration_id = _form_id("registration")
        if registration_id is None:
            raise InvalidChoice(_("This request could not be completed."), field="registration")
        outcome = checkin.undo_check_in(
            get_db(),
            event,
            actor=actor,
            door=form.door.data or "",
            registration_id=registration_id,
            session_id=_form_id("session"),
            answer=checkin_answer,
        )
    except DomainError as e:
        return _json_error(e.status, e.code, e.message, {e.field or "form": [str(e.message)]})
    answer = answer_of(outcome)  # a refusal is a result too: the scan log keeps it
    return jsonify(answer.body), answer.status
