"""E-mails to attendees, written in the language they registered in.

Each function queues its e-mail in the outbox (tracker.mail.queue), in the caller's
transaction; the worker writes it (_compose, in mail.COMPOSERS) and sends it. The
registration services call them: a view never does."""

from __future__ import annotations

import functools

from flask import current_app, render_template
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy.orm import Session as DbSession

from tracker import mail
from tracker.calendar import registration_ics
from tracker.links import absolute_url
from tracker.models import Registration, RegistrationStatus


def manage_url(registration: Registration) -> str:
    return absolute_url("registration.manage", token=registration.manage_token)


def _compose(registration: Registration, kind: str) -> mail.Mail:
    """The e-mail of one kind: "confirmation" (or waitlist), "link" (sent again),
    "promoted" (from the waitlist), "cancelled". Each carries the calendar file of the
    registration as it now is; only a confirmed person's carries the entrance code and
    its QR code (a waitlisted person gets it when a place is theirs)."""
    event = registration.event
    with_code = registration.status == RegistrationStatus.CONFIRMED
    qr_cid = mail.content_id("qr", current_app.config["MAIL_SENDER"]) if with_code else None
    with force_locale(registration.locale):
        subjects = {
            "confirmation": _("Your registration: %(title)s", title=event.title),
            "link": _("Your private link: %(title)s", title=event.title),
            "promoted": _("A place is yours: %(title)s", title=event.title),
            "cancelled": _("Registration cancelled: %(title)s", title=event.title),
        }
        context = {
            "registration": registration,
            "event": event,
            "manage_url": manage_url(registration),
            "event_url": absolute_url("events.show", slug=event.slug),
            "kind": kind,
            "qr_cid": qr_cid,
        }
        text = render_template("email/registration.txt", **context)
        html = render_template("email/registration.html", **context)
    attachments = []
    if qr_cid:
        attachments.append(
            mail.Attachment("qr-code.png", registration.qr_png, "image", "png", inline_cid=qr_cid)
        )
    attachments.append(
        mail.Attachment("event.ics", registration_ics(registration), "text", "calendar")
    )
    return mail.Mail(
        to=registration.email,
        subject=subjects[kind],
        text=text,
        html=html,
        attachments=attachments,
    )


KINDS = ("confirmation", "link", "promoted", "cancelled")
for _kind in KINDS:
    mail.COMPOSERS[_kind] = functools.partial(_compose, kind=_kind)


def send_confirmation(db: DbSession, registration: Registration) -> None:
    mail.queue(db, kind="confirmation", registration=registration)


def send_link_again(db: DbSession, registration: Registration) -> bool:
    """The private link again, unless it was sent again a short while ago
    (services.LINK_AGAIN_INTERVAL); returns whether it is sent."""
    from tracker.registration.services import claim_link_again  # it imports this module

    if not claim_link_again(db, registration):
        return False
    mail.queue(db, kind="link", registration=registration)
    return True


def send_promoted(db: DbSession, registrations: list[Registration]) -> None:
    for registration in registrations:
        mail.queue(db, kind="promoted", registration=registration)


def send_cancelled(db: DbSession, registration: Registration) -> None:
    """The cancellation, with the calendar file that takes the event out of a calendar
    (not to a walk-in registered without an address)."""
    from tracker.door.services import has_email  # it imports the services, which import this

    if has_email(registration):
        mail.queue(db, kind="cancelled", registration=registration)
