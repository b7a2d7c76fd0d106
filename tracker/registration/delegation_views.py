"""Delegation pages: the group form (/events/<slug>/register/group) and the contact's
private page (/d/<token>), routes of the registration blueprint (public pages)."""

from __future__ import annotations

from typing import Any

from flask import Response, flash, redirect, render_template, request, url_for
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from sqlalchemy.orm import Session as DbSession
from werkzeug.wrappers import Response as BaseResponse
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]  # (WTForms 3.2; its stubs lag)

from tracker.auth import ratelimit
from tracker.auth.access import shown
from tracker.db import get_db, release_write_lock, utcnow
from tracker.errors import DomainError, NotFound
from tracker.events.services import get_event
from tracker.links import private_page
from tracker.models import Admission, Delegation, Event
from tracker.registration import capacity, delegations, notify, services
from tracker.registration.delegation_forms import (
    MORE_ROWS,
    AddPeopleForm,
    DelegationForm,
    rows_sent,
)
from tracker.registration.delegations import MAX_PEOPLE, DelegationRefused
from tracker.registration.forms import STATUS_LABELS, TYPE_SHORT_LABELS
from tracker.registration.organisations import suggest_organisations
from tracker.registration.views import (
    INVALID,
    _session_choices,
    bp,
    flash_throttled,
    throttled,
)


def _show_refusal(
    form: DelegationForm | AddPeopleForm, error: DomainError, rows: list[int]
) -> None:
    """Put each row's errors on its fields (`rows`: the form's row of each person sent),
    the others on the form's own fields or as a message."""
    if isinstance(error, DelegationRefused):
        for index, problems in error.rows.items():
            row = rows[index]
            for name, message in problems:
                field = None
                if row == -1 and isinstance(form, DelegationForm):
                    field = getattr(form, f"contact_{name}", None)
                elif row >= 0:
                    field = getattr(form.people[row].form, name, None)
                if field is None:
                    field = getattr(form, name, None)
                if field is not None:
                    field.errors = [*field.errors, message]
                else:
                    flash(str(message), "error")
    field = getattr(form, error.field, None) if error.field else None
    if field is not None and not isinstance(error, DelegationRefused):
        field.errors = [*field.errors, error.message]
    else:
        flash(str(error.message), "error")


def _group_page(
    db: DbSession, event: Event, form: DelegationForm, is_open: bool, status: int = 200
) -> tuple[str, int]:
    places = services.availability(db, event)
    form.set_session_choices(_session_choices(event, places))
    body = render_template(
        "registration/group.html",
        event=event,
        places=places,
        is_open=is_open,
        now=utcnow(),
        form=form,
        max_people=MAX_PEOPLE,
        organisations=suggest_organisations(db),
    )
    return body, status


def _too_many(form: DelegationForm | AddPeopleForm) -> bool:
    if rows_sent(request.form) > MAX_PEOPLE:
        flash(_("At most %(max)d people in one form, please.", max=MAX_PEOPLE), "error")
        return True
    return False


@bp.route("/events/<slug>/register/group", methods=["GET", "POST"])
def register_group(slug: str) -> Any:
    db = get_db()
    event = shown(get_event(db, slug))
    form = DelegationForm()
    ids = [SelectChoice(s.id, s.title) for s in event.sessions]
    form.set_session_choices(ids)
    is_open = services.registration_is_open(event)
    if request.method == "GET":
        return _group_page(db, event, form, is_open)
    if not is_open:
        return _group_page(db, event, form, is_open, 409)
    if event.admission == Admission.INVITATION:  # only through an invitation's link
        return _group_page(db, event, form, is_open, 403)
    if _too_many(form):
        return _group_page(db, event, form, is_open, INVALID)
    if "more" in request.form:  # without a script: the same form with more empty rows
        for _i in range(min(MORE_ROWS, MAX_PEOPLE - len(form.people))):
            form.people.append_entry()
        return _group_page(db, event, form, is_open)
    retry_after = ratelimit.registration_attempt()
    if retry_after is not None:
        flash_throttled(retry_after)
        return throttled(_group_page(db, event, form, True)[0], retry_after)
    release_write_lock(db)  # register_delegation() takes the event's lock itself
    if not form.validate_on_submit():
        return _group_page(db, event, form, is_open, INVALID)
    if form.is_bot():
        return render_template("registration/received.html", event=event)
    people = form.rows()
    try:
        result = delegations.register_delegation(
            db, event, form.contact(str(get_locale())), [p for _row, p in people]
        )
    except DomainError as e:
        db.rollback()  # nobody of this form is kept; count places afresh
        _show_refusal(form, e, [row for row, _p in people])
        return _group_page(db, event, form, is_open, INVALID)
    waiting = sum(1 for r in result.registered if r.registration.status == services.WAITLISTED)
    flash(
        ngettext(
            "%(num)d person registered. Each receives their own confirmation by e-mail.",
            "%(num)d people registered. Each receives their own confirmation by e-mail.",
            len(result.registered),
        ),
        "success",
    )
    if waiting:
        flash(
            ngettext(
                "%(num)d of them is on the waitlist: see why below.",
                "%(num)d of them are on the waitlist: see why below.",
                waiting,
            ),
            "warning",
        )
    return redirect(url_for(".delegation", token=result.delegation.token), code=303)


def _by_token(db: DbSession, token: str) -> Delegation:
    delegation = delegations.get_by_token(db, token)
    shown(delegation.event)
    return delegation


def _delegation_page(
    db: DbSession, delegation: Delegation, form: AddPeopleForm | None = None, status: int = 200
) -> Response:
    event = delegation.event
    places = services.availability(db, event)
    if form is None:
        form = AddPeopleForm(formdata=None)
    form.set_session_choices(_session_choices(event, places))
    counts = capacity.places(db, event)
    people = [
        {
            "position": i,
            "registration": r,
            "reason": delegations.waiting_reason(counts, r),
            "can_edit": services.can_edit(r),
        }
        for i, r in enumerate(delegation.registrations, start=1)
    ]
    body = render_template(
        "registration/delegation.html",
        delegation=delegation,
        event=event,
        people=people,
        form=form,
        places=places,
        is_open=services.registration_is_open(event),
        room=MAX_PEOPLE - len(delegation.registrations),
        status_labels=STATUS_LABELS,
        type_labels=TYPE_SHORT_LABELS,
    )
    return private_page(Response(body, status=status))


@bp.route("/d/<token>")
def delegation(token: str) -> Response:
    db = get_db()
    return _delegation_page(db, _by_token(db, token))


def _position() -> int:
    try:
        return int(request.form.get("person", ""))
    except ValueError:
        raise NotFound() from None


@bp.route("/d/<token>/cancel", methods=["POST"])
def delegation_cancel(token: str) -> BaseResponse:
    db = get_db()
    delegation = _by_token(db, token)
    registration = delegations.member(delegation, _position())
    if registration.status == services.CANCELLED:
        flash(_("This registration is already cancelled."), "error")
    else:
        try:
            services.cancel_registration(db, registration)
        except DomainError as e:
            flash(str(e.message), "error")
        else:
            flash(
                _(
                    "The registration of %(name)s has been cancelled.",
                    name=f"{registration.first_name} {registration.last_name}",
                ),
                "success",
            )
    return redirect(url_for(".delegation", token=token), code=303)


@bp.route("/d/<token>/resend", methods=["POST"])
def delegation_resend(token: str) -> BaseResponse:
    db = get_db()
    delegation = _by_token(db, token)
    registration = delegations.member(delegation, _position())
    name = f"{registration.first_name} {registration.last_name}"
    if notify.send_link_again(db, registration):
        flash(_("The private link has been e-mailed again to %(name)s.", name=name), "success")
    else:
        flash(
            _(
                "The private link was e-mailed to %(name)s a few minutes ago: try again later.",
                name=name,
            ),
            "warning",
        )
    return redirect(url_for(".delegation", token=token), code=303)


@bp.route("/d/<token>/add", methods=["POST"])
def delegation_add(token: str) -> Any:
    db = get_db()
    delegation = _by_token(db, token)
    form = AddPeopleForm()
    form.set_session_choices([SelectChoice(s.id, s.title) for s in delegation.event.sessions])
    if _too_many(form):
        return _delegation_page(db, delegation, form, INVALID)
    retry_after = ratelimit.registration_attempt()
    if retry_after is not None:
        flash_throttled(retry_after)
        response = _delegation_page(db, delegation, form, 429)
        response.headers["Retry-After"] = str(retry_after)
        return response
    release_write_lock(db)
    if not form.validate_on_submit():
        return _delegation_page(db, delegation, form, INVALID)
    if form.is_bot():
        return redirect(url_for(".delegation", token=token), code=303)
    people = form.rows()
    try:
        added = delegations.add_people(db, delegation, [p for _row, p in people])
    except DomainError as e:
        db.rollback()
        _show_refusal(form, e, [row for row, _p in people])
        delegation = _by_token(db, token)
        return _delegation_page(db, delegation, form, INVALID)
    flash(
        ngettext(
            "%(num)d person added. They receive their own confirmation by e-mail.",
            "%(num)d people added. They receive their own confirmation by e-mail.",
            len(added),
        ),
        "success",
    )
    return redirect(url_for(".delegation", token=token), code=303)
