"""Who may do what. Organiser and door pages and the API all go through here."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import abort, current_app, request
from flask_login import current_user

from tracker.auth import login_manager
from tracker.db import get_db
from tracker.errors import NotFound
from tracker.events.services import get_event
from tracker.models import Event, Role, User, Visibility

MANAGE = frozenset({Role.ADMIN, Role.ORGANISER})
DOOR = frozenset({Role.ADMIN, Role.ORGANISER, Role.DOOR})
ADMIN = frozenset({Role.ADMIN})


def _is_api() -> bool:
    return request.path.startswith("/api/")


def require(roles: frozenset[Role]) -> Callable[..., Any]:
    """Route decorator: the current user must be logged in with one of `roles`.
    Anonymous: the login page (401 for the API). Wrong role: 403."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            check(roles)
            return view(*args, **kwargs)

        wrapper.required_roles = roles  # type: ignore[attr-defined]
        return wrapper

    return decorator


def check(roles: frozenset[Role]) -> User:
    if not current_user.is_authenticated:
        if _is_api():
            abort(401)
        abort(login_manager.unauthorized())  # the login page, then back here
    if current_user.role not in roles:
        abort(403)
    return current_user._get_current_object()


def event_for(slug: str, roles: frozenset[Role]) -> Event:
    """The event, if the current user may act on it with one of `roles` (else 403)."""
    user = check(roles)
    event = get_event(get_db(), slug)
    if not user.may_access(event):
        abort(403)
    return event


def may_open(endpoint: str, event: Event | None = None) -> bool:
    """Whether the current user would get past the checks of `endpoint` (for `event`,
    when the URL names one): the header and the landing pages show a link only then,
    so that no link answers 403. The same rules as `check` and `event_for`."""
    view = current_app.view_functions.get(endpoint)
    if view is None:
        return False
    roles = getattr(view, "required_roles", None)
    if roles is None:
        return True  # a public page
    if not current_user.is_authenticated or current_user.role not in roles:
        return False
    return event is None or bool(current_user.may_access(event))


def shown(event: Event) -> Event:
    """The event, for its public pages (its page, its form, the attendees' private
    pages): a draft is not found but by its organisers and admins."""
    if event.visibility == Visibility.DRAFT and not (
        current_user.is_authenticated
        and current_user.role in MANAGE
        and current_user.may_access(event)
    ):
        raise NotFound()
    return event
