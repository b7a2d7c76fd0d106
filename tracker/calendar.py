"""The .ics file an attendee adds to their calendar.

Calendars are shared, published and synchronised to other services: the file holds
nothing private. It links to the public event page, never to the private link, and its
UID is not the check-in code either.

One entry per registration, always under the same UID: confirmed (STATUS:CONFIRMED),
on the waitlist (STATUS:TENTATIVE) or cancelled (METHOD:CANCEL, STATUS:CANCELLED, which
removes the entry from a calendar that holds it). Its SEQUENCE is the registration's
count of status changes, so that each new file replaces the one a calendar holds.
"""

from __future__ import annotations

import hashlib
from email.utils import parseaddr

from flask import current_app
from icalendar import Calendar, vCalAddress
from icalendar import Event as IcsEvent

from tracker.db import utcnow
from tracker.links import absolute_url
from tracker.models import Registration, RegistrationStatus

STATUS = {
    RegistrationStatus.CONFIRMED: "CONFIRMED",
    RegistrationStatus.WAITLISTED: "TENTATIVE",
    RegistrationStatus.CANCELLED: "CANCELLED",
}


def registration_ics(registration: Registration) -> bytes:
    event = registration.event
    event_url = absolute_url("events.show", slug=event.slug)
    cancelled = registration.status == RegistrationStatus.CANCELLED
    calendar = Calendar()
    calendar.add("prodid", "-//tracker//registration//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "CANCEL" if cancelled else "PUBLISH")
    item = IcsEvent()
    # Stable across downloads, so that a second import updates instead of duplicating;
    # a digest, since the check-in code itself would let a reader of the calendar in.
    digest = hashlib.sha256(f"ics:{registration.checkin_code}".encode()).hexdigest()[:32]
    item.add("uid", f"{digest}@{event.slug}.tracker")
    item.add("sequence", registration.calendar_sequence)
    item.add("dtstamp", utcnow())
    item.add("dtstart", event.starts_at)
    item.add("dtend", event.ends_at)
    item.add("summary", event.title)
    item.add("status", STATUS[registration.status])
    # iTIP (RFC 5546) wants an organiser in a PUBLISH and a CANCEL: the address the
    # e-mails come from, under the event's organiser's name.
    sender_name, sender = parseaddr(current_app.config["MAIL_SENDER"])
    organiser = vCalAddress(f"mailto:{sender}")
    organiser.params["cn"] = event.organiser or sender_name or sender
    item.add("organizer", organiser)
    if event.venue:
        item.add("location", event.venue)
    description = [event.organiser or "", event_url]
    item.add("description", "\n".join(line for line in description if line))
    item.add("url", event_url)
    calendar.add_component(item)
    return calendar.to_ical()
