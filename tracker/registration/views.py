"""Self-registration pages: the form, the private page, edit and cancel."""

from __future__ import annotations

import math
import unicodedata

from flask import (
    Blueprint,
    Response,
    flash,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from sqlalchemy.orm import Session as DbSession
from werkzeug.wrappers import Response as BaseResponse
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]  # (WTForms 3.2; its stubs lag)

from tracker.auth import ratelimit
from tracker.auth.access import shown
from tracker.db import get_db, release_write_lock, utcnow
from tracker.errors import AlreadyRegistered, DomainError, NotFound
from tracker.events.services import get_event
from tracker.links import private_page
from tracker.mailings.certificate import (
    certificate_filename,
    has_certificate,
    render_certificate,
)
from tracker.models import Admission, Event, Registration
from tracker.questions import answers as qa
from tracker.questions.forms import answers_of_form, fill_answers, with_questions
from tracker.registration import capacity, services
from tracker.registration.forms import (
    TYPE_SHORT_LABELS,
    EditRegistrationForm,
    RegistrationForm,
    registration_data,
)
from tracker.registration.organisations import suggest_organisations

bp = Blueprint("registration", __name__)

INVALID = 422  # a form sent back with errors: nothing saved


def _session_choices(
    event: Event, places: services.Availability, held: frozenset[int] = frozenset()
) -> list[SelectChoice]:
    """The event's sessions; a full one is shown as such and cannot be ticked
    (unless the person already holds a seat in it)."""
    choices = []
    for s in event.sessions:
        if places.session_left.get(s.id) == 0 and s.id not in held:
            choices.append(
                SelectChoice(
                    s.id, _("%(title)s (full)", title=s.title), render_kw={"disabled": True}
                )
            )
        else:
            choices.append(SelectChoice(s.id, s.title))
    return choices


def _data_from(form: RegistrationForm, event: Event) -> services.RegistrationData:
    data = registration_data(form, locale=str(get_locale()))
    data.answers = answers_of_form(form, event.questions)
    return data


def _show_domain_error(form: RegistrationForm, error: DomainError) -> None:
    field = getattr(form, error.field, None) if error.field else None
    if field is not None:
        field.errors = [*field.errors, error.message]
    else:
        flash(str(error.message), "error")


@bp.route("/events/<slug>/register", methods=["GET", "POST"])
def register(slug: str) -> str | BaseResponse | tuple[str, int]:
    db = get_db()
    event = shown(get_event(db, slug))
    form = with_questions(RegistrationForm, event.questions)()
    # Validation needs only the ids; places are counted when a page is shown.
    form.sessions.choices = [SelectChoice(s.id, s.title) for s in event.sessions]
    is_open = services.registration_is_open(event)
    if request.method == "GET":
        return _form_page(db, event, form, is_open), 200
    if not is_open:
        return _form_page(db, event, form, is_open), 409
    if event.admission == Admission.INVITATION:  # only through an invitation's link
        return _form_page(db, event, form, is_open), 403
    retry_after = ratelimit.registration_attempt()
    if retry_after is not None:
        return _throttled(db, event, form, retry_after)
    # Other registrations need the write lock while this one checks its form;
    # register() below takes the event's lock itself.
    release_write_lock(db)
    if not form.validate_on_submit():
        return _form_page(db, event, form, is_open), INVALID
    if form.is_bot():
        return render_template("registration/received.html", event=event)
    try:
        registered = services.register_explained(db, event, _data_from(form, event))
    except AlreadyRegistered:  # the private link is e-mailed again to the address
        return render_template("registration/already.html", event=event)
    except DomainError as e:
        db.rollback()  # nothing of this attempt is kept; count places afresh
        _show_domain_error(form, e)
        return _form_page(db, event, form, is_open), INVALID
    registration = registered.registration
    flash(*registered_message(registered))
    return redirect(url_for(".manage", token=registration.manage_token), code=303)


def registered_message(registered: services.Registered) -> tuple[str, str]:
    """What the page says to a person just registered (a flash message and its kind):
    confirmed, or waitlisted and why."""
    if registered.registration.status == services.CONFIRMED:
        return _("You are registered. A confirmation has been sent to you by e-mail."), "success"
    full = registered.full
    if full is None or full.limit is capacity.Limit.EVENT:
        message = _(
            "The event is full: you are on the waitlist. We will e-mail you if a "
            "place becomes free."
        )
    else:
        message = _(
            "%(reason)s You are on the waitlist. We will e-mail you if a place becomes free.",
            reason=full.reason,
        )
    return message, "warning"


def _throttled(
    db: DbSession, event: Event, form: RegistrationForm, retry_after: int
) -> BaseResponse:
    """429: too many forms from the client's address; the form again, as it was typed."""
    flash_throttled(retry_after)
    return throttled(_form_page(db, event, form, True), retry_after)


def flash_throttled(retry_after: int) -> None:
    """What a person is told when too many forms came from their network (its page is a
    429, `throttled`)."""
    minutes = max(1, math.ceil(retry_after / 60))
    flash(
        ngettext(
            "Too many registrations have been sent from your network in a short time. "
            "Nothing was saved: wait %(num)d minute, then send the form again.",
            "Too many registrations have been sent from your network in a short time. "
            "Nothing was saved: wait %(num)d minutes, then send the form again.",
            minutes,
        ),
        "error",
    )


def throttled(body: str, retry_after: int) -> BaseResponse:
    response = make_response(body, 429)
    response.headers["Retry-After"] = str(retry_after)
    return response


def _form_page(db: DbSession, event: Event, form: RegistrationForm, is_open: bool) -> str:
    places = services.availability(db, event)
    form.sessions.choices = _session_choices(event, places)
    return render_template(
        "registration/form.html",
        event=event,
        places=places,
        is_open=is_open,
        now=utcnow(),
        form=form,
        organisations=suggest_organisations(db),
    )


def _by_token(db: DbSession, token: str) -> Registration:
    """The registration of a private link; not found while its event is a draft (but
    by the event's organisers and admins)."""
    registration = services.get_by_token(db, token)
    shown(registration.event)
    return registration


@bp.route("/r/<token>")
def manage(token: str) -> Response:
    db = get_db()
    registration = _by_token(db, token)
    return private_page(
        Response(
            render_template(
                "registration/manage.html",
                registration=registration,
                event=registration.event,
                can_edit=services.can_edit(registration),
                has_certificate=has_certificate(db, registration),
                type_labels=TYPE_SHORT_LABELS,
                answers=qa.registration_answers(registration),
            )
        )
    )


@bp.route("/r/<token>/qr.png")
def qr(token: str) -> Response:
    """The entrance code's image, for a confirmed person only: a waitlisted one gets it
    when a place is theirs, a cancelled one never again."""
    registration = _by_token(get_db(), token)
    if registration.status != services.CONFIRMED:
        raise NotFound()
    return private_page(Response(registration.qr_png, mimetype="image/png"))


@bp.route("/r/<token>/certificate.pdf")
def certificate(token: str) -> Response | BaseResponse:
    """The certificate of attendance, in the page's language, once the event is over and
    for someone checked in; otherwise back to the private page, which says why."""
    db = get_db()
    registration = _by_token(db, token)
    try:
        body = render_certificate(db, registration)
    except DomainError as e:
        flash(str(e.message), "error")
        return redirect(url_for(".manage", token=token), code=303)
    response = Response(body, mimetype="application/pdf")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{certificate_filename(registration)}"'
    )
    return private_page(response)


@bp.route("/r/<token>/event.ics")
def ics(token: str) -> Response:
    from tracker.calendar import registration_ics

    registration = _by_token(get_db(), token)
    body = registration_ics(registration)
    response = Response(body, mimetype="text/calendar")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{registration.event.slug}.ics"'
    )
    return private_page(response)


def _form_from(registration: Registration) -> EditRegistrationForm:
    questions = registration.event.questions
    form_class = with_questions(EditRegistrationForm, questions)
    if request.method != "GET":
        # Only what was sent: an empty POST must not fall back on the stored object.
        return form_class()
    form = form_class(obj=registration)
    form.organisation.data = registration.organisation.name
    form.organisation_type.data = registration.organisation_type.value
    form.sessions.data = [s.id for s in registration.sessions]
    fill_answers(form, questions, qa.stored_values(registration))
    return form


@bp.route("/r/<token>/edit", methods=["GET", "POST"])
def edit(token: str) -> Response | BaseResponse:
    db = get_db()
    registration = _by_token(db, token)
    event = registration.event
    if not services.can_edit(registration):
        flash(_("This registration can no longer be changed."), "error")
        return redirect(url_for(".manage", token=token), code=303)
    places = services.availability(db, event)
    form = _form_from(registration)
    held = frozenset(
        s.id for s in registration.sessions if registration.status == services.CONFIRMED
    )
    form.sessions.choices = _session_choices(event, places, held)
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            data = _data_from(form, event)
            data.locale = registration.locale
            try:
                services.update_registration(db, registration, data)
            except DomainError as e:
                _show_domain_error(form, e)
                status = INVALID
            else:
                flash(_("Your changes have been saved."), "success")
                return redirect(url_for(".manage", token=token), code=303)
        else:
            status = INVALID
    body = render_template(
        "registration/edit.html",
        form=form,
        event=event,
        registration=registration,
        places=places,
        organisations=suggest_organisations(db),
    )
    return private_page(Response(body, status=status))


@bp.route("/r/<token>/cancel", methods=["GET", "POST"])
def cancel(token: str) -> Response | BaseResponse:
    db = get_db()
    registration = _by_token(db, token)
    if request.method == "POST":
        try:
            services.cancel_registration(db, registration)
        except DomainError as e:
            flash(str(e.message), "error")
        else:
            flash(_("Your registration has been cancelled."), "success")
        return redirect(url_for(".manage", token=token), code=303)
    if not services.can_edit(registration):
        return redirect(url_for(".manage", token=token), code=303)
    body = render_template(
        "registration/cancel.html", registration=registration, event=registration.event
    )
    return private_page(Response(body))


@bp.route("/organisations.json")
def organisations() -> Response:
    """Suggestions while typing an organisation: name and usual type."""
    q = request.args.get("q", "")[:200]
    if any(unicodedata.category(c) == "Cc" for c in q):
        return jsonify([])
    found = suggest_organisations(get_db(), q, limit=20)
    return jsonify([{"name": o.name, "type": o.type.value} for o in found])
