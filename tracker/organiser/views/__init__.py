"""Organiser pages: the events one manages, their sessions, registrations and imports.

Every route needs an organiser or admin account (tracker.auth.access.MANAGE), and an
organiser only reaches the events they manage (event_for): others get 403. The routes
live by subject (events and sessions, registrations, imports) on one blueprint.
"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("organiser", __name__)

# The modules that put their routes on bp (after it exists).
from tracker.organiser.views import events, imports, registrations  # noqa: E402, F401
from tracker.questions import views as _questions  # noqa: E402, F401  (an event's questions)
