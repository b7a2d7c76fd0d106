"""E-mails to attendees, written in the language they registered in."""

from __future__ import annotations

from flask import render_template
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy.orm import Session as DbSession

from tracker import mail
from tracker.calendar import registration_ics
from tracker.links import absolute_url
from tracker.models import Registration
from tracker.registration.services import claim_link_again


def manage_url(registration: Registration) -> str:
    return absolute_url("registration.manage", token=registration.manage_token)


def _compose(registration: Registration, kind: str) -> mail.Mail:
    link = manage_url(registration)
    with force_locale(registration.locale):
        subjects = {
            "confirmation": _("Your registration: %(title)s", title=registration.event.title),
            "link": _("Your private link: %(title)s", title=registration.event.title),
            "promoted": _("A place is yours: %(title)s", title=registration.event.title),
        }
        context = {
            "registration": registration,
            "event": registration.event,
            "manage_url": link,
            "kind": kind,
        }
        text = render_template("email/registration.txt", **context)
        html = render_template("email/registration.html", **context)
    return mail.Mail(
        to=registration.email,
        subject=subjects[kind],
        text=text,
        html=html,
        attachments=[
            mail.Attachment("qr-code.png", registration.qr_png, "image", "png", inline_cid="qr"),
            mail.Attachment("event.ics", registration_ics(registration), "text", "calendar"),
        ],
    )


def send_confirmation(db: DbSession, registration: Registration) -> None:
    mail.queue(db, _compose(registration, "confirmation"))


def send_link_again(db: DbSession, registration: Registration) -> bool:
    """The private link again, unless it was sent again a short while ago
    (services.LINK_AGAIN_INTERVAL); returns whether it is sent."""
    if not claim_link_again(db, registration):
        return False
    mail.queue(db, _compose(registration, "link"))
    return True


def send_promoted(db: DbSession, registrations: list[Registration]) -> None:
    for registration in registrations:
        mail.queue(db, _compose(registration, "promoted"))
