"""The .ics file an attendee adds to their calendar."""

from __future__ import annotations

from icalendar import Calendar
from icalendar import Event as IcsEvent

from tracker.db import utcnow
from tracker.models import Registration


def registration_ics(registration: Registration, manage_url: str) -> bytes:
    event = registration.event
    calendar = Calendar()
    calendar.add("prodid", "-//tracker//registration//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    item = IcsEvent()
    # Stable across downloads, so that a second import updates instead of duplicating.
    item.add("uid", f"{registration.checkin_code}@{event.slug}.tracker")
    item.add("dtstamp", utcnow())
    item.add("dtstart", event.starts_at)
    item.add("dtend", event.ends_at)
    item.add("summary", event.title)
    if event.venue:
        item.add("location", event.venue)
    description = [event.organiser or "", manage_url]
    item.add("description", "\n".join(line for line in description if line))
    item.add("url", manage_url)
    calendar.add_component(item)
    return calendar.to_ical()
