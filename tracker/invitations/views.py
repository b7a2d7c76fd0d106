"""The invitee's page (/i/<token>: the form pre-filled, register or decline) and the
organiser's invitations page (list, add, import, send, remind)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from werkzeug.wrappers import Response as BaseResponse
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]  # (WTForms 3.2; its stubs lag)

from tracker.auth.access import MANAGE, event_for, require, shown
from tracker.db import get_db, release_write_lock, utcnow
from tracker.errors import AlreadyRegistered, DomainError
from tracker.invitations import services
from tracker.invitations.forms import LANGUAGE_LABELS, STATE_LABELS, InviteeForm
from tracker.links import private_page
from tracker.models import Event, Invitation, InvitationState, OrganisationType
from tracker.organiser.views.common import _actor, _show_domain_error
from tracker.questions.forms import answers_of_form, with_questions
from tracker.registration import importer
from tracker.registration import services as registrations
from tracker.registration.forms import TYPE_SHORT_LABELS, RegistrationForm, registration_data
from tracker.registration.organisations import suggest_organisations
from tracker.registration.views import registered_message

bp = Blueprint("invitations", __name__)

INVALID = 422


def _invitation(token: str) -> Invitation:
    invitation = services.get_by_token(get_db(), token)
    shown(invitation.event)  # a draft: only its organisers see it
    return invitation


def _form(invitation: Invitation, **kwargs: Any) -> RegistrationForm:
    """The public registration form with the event's own questions (fields q_<id>)."""
    return with_questions(RegistrationForm, invitation.event.questions)(**kwargs)


def _prefilled(invitation: Invitation) -> RegistrationForm:
    form = _form(invitation, formdata=None)
    form.first_name.data = invitation.first_name
    form.last_name.data = invitation.last_name
    form.email.data = invitation.email
    form.organisation.data = invitation.organisation
    form.organisation_type.data = invitation.organisation_type.value
    form.job_title.data = invitation.job_title
    return form


def _page(invitation: Invitation, form: RegistrationForm | None, status: int = 200) -> Response:
    db = get_db()
    event = invitation.event
    places = registrations.availability(db, event, invited=True)
    if form is not None:
        form.sessions.choices = _session_choices(event, places)
    body = render_template(
        "invitations/show.html",
        invitation=invitation,
        event=event,
        form=form,
        places=places,
        is_open=registrations.registration_is_open(event),
        now=utcnow(),
        organisations=suggest_organisations(db),
    )
    return private_page(Response(body, status=status))


def _session_choices(event: Event, places: registrations.Availability) -> list[SelectChoice]:
    choices = []
    for s in event.sessions:
        if places.session_left.get(s.id) == 0:
            label = _("%(title)s (full)", title=s.title)
            choices.append(SelectChoice(s.id, label, render_kw={"disabled": True}))
        else:
            choices.append(SelectChoice(s.id, s.title))
    return choices


@bp.route("/i/<token>", methods=["GET", "POST"])
def show(token: str) -> Response | BaseResponse:
    """GET: the form pre-filled (the invitation is then "opened"); POST: register
    through the invitation. A used or declined invitation shows only its state."""
    db = get_db()
    invitation = _invitation(token)
    if invitation.state in (services.REGISTERED, services.DECLINED):
        return _page(invitation, None, 200 if request.method == "GET" else 409)
    if request.method == "GET":
        services.mark_opened(db, invitation)
        return _page(invitation, _prefilled(invitation))
    form = _form(invitation)
    form.sessions.choices = [SelectChoice(s.id, s.title) for s in invitation.event.sessions]
    if not registrations.registration_is_open(invitation.event):
        return _page(invitation, form, 409)
    release_write_lock(db)  # register() takes the event's lock itself
    if not form.validate_on_submit():
        return _page(invitation, form, INVALID)
    if form.is_bot():
        return _page(invitation, form, INVALID)
    data = registration_data(form, locale=str(get_locale()))
    data.answers = answers_of_form(form, invitation.event.questions)
    try:
        registered = registrations.register_explained(
            db, invitation.event, data, invitation=invitation
        )
    except AlreadyRegistered:  # the private link is e-mailed again to the address
        return private_page(
            Response(render_template("registration/already.html", event=invitation.event))
        )
    except (services.InvitationUsed, services.InvitationDeclined):
        db.rollback()
        db.refresh(invitation)
        return _page(invitation, None, 409)
    except DomainError as e:
        db.rollback()
        _show_domain_error(form, e)
        return _page(invitation, form, INVALID)
    registration = registered.registration
    flash(*registered_message(registered))
    return redirect(url_for("registration.manage", token=registration.manage_token), code=303)


@bp.route("/i/<token>/decline", methods=["POST"])
def decline(token: str) -> BaseResponse:
    """One click: the invitee will not come."""
    db = get_db()
    invitation = _invitation(token)
    try:
        services.decline(db, invitation)
    except services.InvitationUsed:
        flash(
            _(
                "You have registered through this invitation: to cancel, use the private "
                "link in your confirmation e-mail."
            ),
            "error",
        )
    except services.InvitationDeclined:
        flash(_("You had already declined this invitation."), "info")
    else:
        flash(_("You have declined the invitation. Thank you for letting us know."), "success")
    return redirect(url_for(".show", token=token), code=303)


# --- the organiser's page ---------------------------------------------------------------------


def _manage_page(event: Event, form: InviteeForm, status: int = 200, **extra: Any) -> Any:
    db = get_db()
    state = request.args.get("state", "")
    if state not in STATE_LABELS:
        state = ""
    listed = services.list_invitations(db, event, state or None)
    return render_template(
        "organiser/invitations.html",
        event=event,
        form=form,
        listed=listed,
        state=state,
        state_labels=STATE_LABELS,
        language_labels=LANGUAGE_LABELS,
        type_labels={t.value: label for t, label in TYPE_SHORT_LABELS.items()},
        columns=[c for c in importer.COLUMNS if c != "sessions"],
        organisations=suggest_organisations(db),
        **extra,
    ), status


@bp.route("/events/<slug>/invitations")
@require(MANAGE)
def index(slug: str) -> Any:
    event = event_for(slug, MANAGE)
    return _manage_page(event, InviteeForm(formdata=None))


@bp.route("/events/<slug>/invitations/add", methods=["POST"])
@require(MANAGE)
def add(slug: str) -> Any:
    event = event_for(slug, MANAGE)
    db = get_db()
    form = InviteeForm()
    if not form.validate_on_submit():
        return _manage_page(event, form, INVALID)
    data = services.InviteeData(
        first_name=form.first_name.data or "",
        last_name=form.last_name.data or "",
        email=form.email.data or "",
        organisation=form.organisation.data or "",
        organisation_type=OrganisationType(form.organisation_type.data),
        job_title=form.job_title.data or None,
        locale=form.locale.data or "fr",
    )
    try:
        invitation = services.create_invitation(db, event, data, actor=_actor())
        if request.form.get("send") in {"y", "1", "on"}:
            services.send_invitations(db, event, [invitation], actor=_actor())
    except DomainError as e:
        db.rollback()
        _show_domain_error(form, e)
        return _manage_page(event, form, INVALID)
    flash(_("%(name)s is invited.", name=invitation.full_name), "success")
    return redirect(url_for(".index", slug=event.slug), code=303)


@bp.route("/events/<slug>/invitations/import", methods=["POST"])
@require(MANAGE)
def import_list(slug: str) -> Any:
    """A list of invitees: all of it or nothing (a refused row is shown with its
    reasons and nothing is recorded)."""
    event = event_for(slug, MANAGE)
    db = get_db()
    upload = request.files.get("file")
    form = InviteeForm(formdata=None)
    if upload is None or not upload.filename:
        return _manage_page(event, form, INVALID, import_error=_("Choose a file to import."))
    filename = Path(upload.filename.replace("\\", "/")).name[:200]
    if not filename.lower().endswith(importer.EXTENSIONS):
        return _manage_page(event, form, INVALID, import_error=_("Choose a .csv or .xlsx file."))
    content = upload.read()
    if not content:
        return _manage_page(event, form, INVALID, import_error=_("The file is empty."))
    savepoint = db.begin_nested()
    try:
        report = services.import_invitations(db, event, filename, content, actor=_actor())
    except importer.ImportFileError as e:
        savepoint.rollback()
        return _manage_page(event, form, INVALID, import_error=e.message)
    if report.refused:
        savepoint.rollback()
        return _manage_page(event, form, INVALID, report=report)
    savepoint.commit()
    if request.form.get("send") in {"y", "1", "on"}:
        services.send_invitations(db, event, report.created, actor=_actor())
    flash(
        ngettext("%(num)d invitee added.", "%(num)d invitees added.", len(report.created)),
        "success",
    )
    if report.already:
        flash(
            ngettext(
                "%(num)d address was already invited: skipped.",
                "%(num)d addresses were already invited: skipped.",
                len(report.already),
            ),
            "info",
        )
    return redirect(url_for(".index", slug=event.slug), code=303)


def _chosen(event: Event) -> list[Invitation]:
    """The invitations ticked on the page (ids of this event only)."""
    db = get_db()
    ids = []
    for value in request.form.getlist("invitation")[:10_000]:
        if value.isdigit() and len(value) < 12:
            ids.append(int(value))
    chosen = []
    for invitation_id in dict.fromkeys(ids):
        try:
            chosen.append(services.get_for_event(db, event, invitation_id))
        except DomainError:
            continue  # another event's, or gone
    return chosen


@bp.route("/events/<slug>/invitations/send", methods=["POST"])
@require(MANAGE)
def send(slug: str) -> BaseResponse:
    """Send the invitations ticked, or with "unsent" every one not sent yet."""
    event = event_for(slug, MANAGE)
    db = get_db()
    if request.form.get("which") == "unsent":
        chosen = [
            i
            for i in services.list_invitations(db, event).invitations
            if i.state == InvitationState.CREATED
        ]
    else:
        chosen = _chosen(event)
    if not chosen:
        flash(_("Tick the invitations to send."), "error")
        return redirect(url_for(".index", slug=event.slug), code=303)
    sent = services.send_invitations(db, event, chosen, actor=_actor())
    flash(
        ngettext("%(num)d invitation sent.", "%(num)d invitations sent.", sent),
        "success",
    )
    if sent < len(chosen):
        flash(_("Invitations already used to register are not sent again."), "info")
    return redirect(url_for(".index", slug=event.slug), code=303)


@bp.route("/events/<slug>/invitations/remind", methods=["POST"])
@require(MANAGE)
def remind(slug: str) -> BaseResponse:
    event = event_for(slug, MANAGE)
    reminded = services.send_reminders(get_db(), event, actor=_actor())
    if reminded:
        flash(
            ngettext(
                "%(num)d invitee who has not answered was reminded.",
                "%(num)d invitees who have not answered were reminded.",
                reminded,
            ),
            "success",
        )
    else:
        flash(
            _(
                "Nobody to remind: every invitee sent an invitation has answered or "
                "was reminded less than a day ago."
            ),
            "info",
        )
    return redirect(url_for(".index", slug=event.slug), code=303)
