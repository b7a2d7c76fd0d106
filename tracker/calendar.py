"""The .ics file an attendee adds to their calendar.

Calendars are shared, published and synchronised to other services: the file holds
nothing private. It links to the public event page, never to the private link, and its
UID is not the check-in code either.
"""

from __future__ import annotations

import hashlib

from icalendar import Calendar
from icalendar import Event as IcsEvent

from tracker.db import utcnow
from tracker.links import absolute_url
from tracker.models import Registration


def registration_ics(registration: Registration) -> bytes:
    event = registration.event
    event_url = absolute_url("events.show", slug=event.slug)
    calendar = Calendar()
    calendar.add("prodid", "-//tracker//registration//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    item = IcsEvent()
    # Stable across downloads, so that a second import updates instead of duplicating;
    # a digest, since the check-in code itself would let a reader of the calendar in.
    digest = hashlib.sha256(f"ics:{registration.checkin_code}".encode()).hexdigest()[:32]
    item.add("uid", f"{digest}@{event.slug}.tracker")
    item.add("dtstamp", utcnow())
    item.add("dtstart", event.starts_at)
    item.add("dtend", event.ends_at)
    item.add("summary", event.title)
    if event.venue:
        item.add("location", event.venue)
    description = [event.organiser or "", event_url]
    item.add("description", "\n".join(line for line in description if line))
    item.add("url", event_url)
    calendar.add_component(item)
    return calendar.to_ical()
