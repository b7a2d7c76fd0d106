"""The request's commit rule: it commits what its services wrote when it answers below
400 and rolls back on an error, unless its view is marked `keep_writes_on_refusal` (a
refused scan is a result, kept in the scan log): then a 4xx commits too, never a 5xx.
The behaviour itself is tested through the views (tests/test_api.py, test_door.py)."""

from __future__ import annotations

import pytest

from tracker.db import _keeps


@pytest.mark.parametrize(
    ("method", "path", "status", "keeps"),
    [
        ("POST", "/api/v1/events/x/checkins", 201, True),
        ("POST", "/api/v1/events/x/checkins", 404, True),
        ("POST", "/api/v1/events/x/checkins", 409, True),
        ("POST", "/api/v1/events/x/checkins", 500, False),
        ("DELETE", "/api/v1/events/x/checkins/ABC", 404, True),
        ("POST", "/events/x/door/undo", 404, True),
        # A refused walk-in saves nothing; nor does a refused registration form.
        ("POST", "/events/x/door/walk-in", 201, True),
        ("POST", "/events/x/door/walk-in", 409, False),
        ("POST", "/events/x/register", 422, False),
    ],
)
def test_which_answers_keep_what_the_request_wrote(app, method, path, status, keeps):
    with app.test_request_context(path, method=method):
        from flask import request

        assert request.endpoint is not None
        assert _keeps(status) is keeps
