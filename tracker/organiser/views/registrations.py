"""An event's registrations: the list, adding one, its page and its actions."""

from __future__ import annotations

from collections.abc import Callable

from flask import (
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy.orm import Session as DbSession
from werkzeug.wrappers import Response as BaseResponse
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]  # (WTForms 3.2; its stubs lag)

from tracker import audit
from tracker.auth.access import MANAGE, event_for, require
from tracker.checkin.services import SCAN_LABELS
from tracker.db import get_db
from tracker.errors import AlreadyRegistered, DomainError
from tracker.models import (
    Event,
    Registration,
    RegistrationSource,
)
from tracker.organiser import services
from tracker.organiser.forms import (
    NewRegistrationForm,
    OrganiserRegistrationForm,
)
from tracker.organiser.views import bp
from tracker.organiser.views.common import (
    FIELD_LABELS,
    INVALID,
    _actor,
    _common,
    _show_domain_error,
)
from tracker.questions import answers as qa
from tracker.questions.forms import answers_of_form, fill_answers, with_questions
from tracker.registration import organisations
from tracker.registration import services as registrations
from tracker.registration.forms import (
    registration_data,
)

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
        answer_filters=qa.filter_choices(event),
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


def _registration_data(
    form: OrganiserRegistrationForm, event: Event
) -> registrations.RegistrationData:
    data = registration_data(form, locale=current_app.config["BABEL_DEFAULT_LOCALE"])
    data.answers = answers_of_form(form, event.questions)
    return data


@bp.route("/events/<slug>/registrations/new", methods=["GET", "POST"])
@require(MANAGE)
def new_registration(slug: str) -> BaseResponse | tuple[str, int]:
    event = event_for(slug, MANAGE)
    db = get_db()
    places = registrations.availability(db, event)
    form = with_questions(NewRegistrationForm, event.questions)()
    form.sessions.choices = _session_choices(event, places)
    existing: Registration | None = None
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                registration = registrations.add_registration(
                    db,
                    event,
                    _registration_data(form, event),
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
        organisations=organisations.suggest_organisations(db),
    ), status


@bp.route("/events/<slug>/registrations/<int:registration_id>", methods=["GET", "POST"])
@require(MANAGE)
def registration(slug: str, registration_id: int) -> BaseResponse | tuple[str, int]:
    event = event_for(slug, MANAGE)
    db = get_db()
    item = services.get_registration(db, event, registration_id)
    places = registrations.availability(db, event)
    # On POST only what was sent: an empty form must not fall back on the stored object.
    form_class = with_questions(OrganiserRegistrationForm, event.questions)
    form = form_class(obj=item if request.method == "GET" else None)
    form.sessions.choices = _session_choices(event, places)
    status = 200
    if request.method == "GET":
        form.organisation.data = item.organisation.name
        form.organisation_type.data = item.organisation_type.value
        form.sessions.data = [s.id for s in item.sessions]
        fill_answers(form, event.questions, qa.stored_values(item))
    elif form.validate_on_submit():
        try:
            promoted = registrations.edit_registration(
                db,
                item,
                _registration_data(form, event),
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
        organisations=organisations.suggest_organisations(db),
        action_label=audit.action_label,
        scan_labels=SCAN_LABELS,
        # An organiser's change of an answer is recorded under its field, q_<id>.
        field_labels={**FIELD_LABELS, **{q.field_name: q.label for q in event.questions}},
        answers=qa.registration_answers(item),
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
        flash(
            _(
                "The e-mail to %(email)s is queued: it will be sent again in a moment.",
                email=item.email,
            ),
            "success",
        )

    return _registration_action(slug, registration_id, resend)
