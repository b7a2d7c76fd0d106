"""The JSON API v1 under /api/v1 (see views.py and openapi.py)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the blueprint. Flask-WTF's global CSRF check is off for it: the API
    checks the CSRF token itself, for session-authenticated requests only."""
    from tracker.api.views import bp

    app.register_blueprint(bp)
    app.extensions["csrf"].exempt(bp)
