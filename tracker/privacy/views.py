"""The person's rights, from the private page and from the organiser's screens: their
data as JSON and as a page, and erasing the registration (after a confirmation)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response as BaseResponse

from tracker.auth.access import MANAGE, event_for, require, shown
from tracker.db import get_db
from tracker.errors import DomainError
from tracker.i18n import local_date
from tracker.links import private_page
from tracker.models import Registration, User
from tracker.organiser.services import get_registration
from tracker.privacy import retention, rights
from tracker.privacy.retention import anonymisation_date
from tracker.registration import services as registrations
from tracker.registration.forms import SOURCE_LABELS, STATUS_LABELS, TYPE_SHORT_LABELS

bp = Blueprint("privacy", __name__)


bp.app_template_global("anonymisation_date")(anonymisation_date)


@bp.app_template_filter("fromiso")
def _fromiso(value: str) -> datetime:
    """An ISO 8601 time (as in the JSON download) for the date filters."""
    return datetime.fromisoformat(value)


INVALID = 422


def _by_token(token: str) -> Registration:
    registration = registrations.get_by_token(get_db(), token)
    shown(registration.event)
    return registration


def _labels() -> dict[str, Any]:
    return {
        "status_labels": STATUS_LABELS,
        "source_labels": SOURCE_LABELS,
        "type_labels": {t.value: label for t, label in TYPE_SHORT_LABELS.items()},
    }


def _json(registration: Registration) -> Response:
    data = rights.personal_data(get_db(), registration)
    body = json.dumps(data, ensure_ascii=False, indent=2)
    response = Response(body, mimetype="application/json")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="my-data-{registration.event.slug}.json"'
    )
    return private_page(response)


def _page(registration: Registration, json_url: str, back_url: str) -> Response:
    data = rights.personal_data(get_db(), registration)
    body = render_template(
        "privacy/data.html",
        data=data,
        registration=registration,
        event=registration.event,
        json_url=json_url,
        back_url=back_url,
        **_labels(),
    )
    return private_page(Response(body))


# --- the attendee, through the private link -------------------------------------------


@bp.route("/r/<token>/data")
def my_data(token: str) -> Response:
    registration = _by_token(token)
    return _page(
        registration,
        url_for(".my_data_json", token=token),
        url_for("registration.manage", token=token),
    )


@bp.route("/r/<token>/data.json")
def my_data_json(token: str) -> Response:
    return _json(_by_token(token))


@bp.route("/r/<token>/erase", methods=["GET", "POST"])
def erase_mine(token: str) -> Response:
    registration = _by_token(token)
    event = registration.event
    if request.method == "POST":
        rights.erase(get_db(), registration, actor=None, by=rights.ATTENDEE)
        return private_page(Response(render_template("privacy/erased.html", event=event)))
    body = render_template(
        "privacy/erase.html",
        event=event,
        registration=registration,
        action=url_for(".erase_mine", token=token),
        back_url=url_for("registration.manage", token=token),
        organiser=False,
    )
    return private_page(Response(body))


# --- an organiser, for a person who asks by another channel -----------------------------


def _actor() -> User:
    return current_user._get_current_object()


def _registration(slug: str, registration_id: int) -> Registration:
    event = event_for(slug, MANAGE)
    return get_registration(get_db(), event, registration_id)


@bp.route("/events/<slug>/registrations/<int:registration_id>/data")
@require(MANAGE)
def person_data(slug: str, registration_id: int) -> Response:
    registration = _registration(slug, registration_id)
    return _page(
        registration,
        url_for(".person_data_json", slug=slug, registration_id=registration_id),
        url_for("organiser.registration", slug=slug, registration_id=registration_id),
    )


@bp.route("/events/<slug>/registrations/<int:registration_id>/data.json")
@require(MANAGE)
def person_data_json(slug: str, registration_id: int) -> Response:
    return _json(_registration(slug, registration_id))


@bp.route("/events/<slug>/registrations/<int:registration_id>/erase", methods=["GET", "POST"])
@require(MANAGE)
def erase_person(slug: str, registration_id: int) -> Response | BaseResponse:
    registration = _registration(slug, registration_id)
    event = registration.event
    if request.method == "POST":
        try:
            rights.erase(get_db(), registration, actor=_actor(), by=rights.ORGANISER)
        except DomainError as e:
            flash(str(e.message), "error")
            return redirect(
                url_for("organiser.registration", slug=slug, registration_id=registration_id),
                code=303,
            )
        flash(
            _("The registration has been erased, with everything held about the person."),
            "success",
        )
        return redirect(url_for("organiser.registrations_list", slug=event.slug), code=303)
    body = render_template(
        "privacy/erase.html",
        event=event,
        registration=registration,
        action=url_for(".erase_person", slug=slug, registration_id=registration_id),
        back_url=url_for("organiser.registration", slug=slug, registration_id=registration_id),
        organiser=True,
    )
    return Response(body)


@bp.route("/manage/people")
@require(MANAGE)
def people() -> tuple[str, int]:
    email = " ".join(request.args.get("email", "")[:254].split())
    found = rights.registrations_of_address(get_db(), _actor(), email) if email else []
    return render_template(
        "privacy/people.html",
        email=email,
        found=found,
        anonymisation_date=anonymisation_date,
        **_labels(),
    ), 200


@bp.route("/events/<slug>/retention", methods=["POST"])
@require(MANAGE)
def set_retention(slug: str) -> BaseResponse:
    """The event's retention period, from its settings page (empty: the default)."""
    event = event_for(slug, MANAGE)
    typed = request.form.get("retention_days", "").strip()
    target = url_for("organiser.edit_event", slug=event.slug) + "#retention"
    if typed and not (typed.isdigit() and len(typed) <= 6):
        flash(_("Retention period: a whole number of days, please."), "error")
        return redirect(target, code=303)
    try:
        retention.set_retention(get_db(), event, int(typed) if typed else None, actor=_actor())
    except DomainError as e:
        flash(_("Retention period: %(message)s", message=e.message), "error")
        return redirect(target, code=303)
    flash(
        _(
            "The personal data of this event will be anonymised on %(date)s.",
            date=local_date(retention.anonymisation_date(event), event.timezone),
        ),
        "success",
    )
    return redirect(target, code=303)
