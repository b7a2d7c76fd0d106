"""The API matches its OpenAPI document: schemathesis generates requests from
/api/v1/openapi.json (valid and invalid ones) and checks every answer against it.

The requests carry a valid door token and, part of the time, the slug of a real event
and real check-in codes and registration ids, so that the successful answers (201, 409,
422 not_confirmed, 200) are exercised and checked too, not only the refusals. No answer
may be a server error. `call_and_validate` runs schemathesis's checks: no 5xx, status
codes, content types, headers and bodies as documented, schema-valid requests accepted,
schema-violating ones refused, and the same request without its token refused.

The cases are drawn with hypothesis directly from each operation's strategy rather than
through `@schema.parametrize()`, whose pytest integration does not run under pytest 9.2
(it sets `Function._nodeid`, which pytest no longer has).
"""

from __future__ import annotations

from urllib.parse import unquote

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig

from tests.conftest import make_event, make_registration
from tracker.auth.services import create_token, create_user
from tracker.models import Role
from tracker.registration.services import cancel_registration

EXAMPLES = 25  # per operation and generation mode: 10-20 s in all on an idle machine


@pytest.fixture
def api_schema(app, db):
    with app.app_context():
        event = make_event(db, capacity=4)
        people = [make_registration(db, event) for _ in range(6)]  # 4 confirmed, 2 waiting
        cancel_registration(db, people[0])  # one cancelled, one promoted
        door = create_user(db, "door@example.org", "a long door password", Role.DOOR, [event])
        token, _record = create_token(db, door, "Door A")
    codes = [p.checkin_code for p in people]
    codes += [c.lower() for c in codes[:2]]
    config = SchemathesisConfig.from_dict(
        {
            # (identity: the WSGI client reads bodies as sent, and would not gunzip)
            "headers": {
                "Authorization": f"Bearer {token}",
                "Accept-Language": "en",
                "Accept-Encoding": "identity",
            },
            "dictionaries": {
                "slugs": {"values": [event.slug]},
                "codes": {"values": codes},
                "registrations": {"values": [p.id for p in people]},
                "sessions": {"values": [s.id for s in event.sessions]},
            },
            "parameters": {
                "path.slug": {"dictionary": "slugs", "probability": 0.8},
                "path.code": {"dictionary": "codes", "probability": 0.5},
                "query.session": {"dictionary": "sessions", "probability": 0.5},
                "body.code": {"dictionary": "codes", "probability": 0.5},
                "body.registration": {"dictionary": "registrations", "probability": 0.5},
                "body.session": {"dictionary": "sessions", "probability": 0.5},
            },
            "generation": {"max-examples": EXAMPLES},
            # A well-formed request may still be refused by the rules of the day:
            # 404 unknown code, 409 already checked in, 422 waitlisted or cancelled, or
            # a session that is not the event's (see the test for which 422s).
            "checks": {
                "positive_data_acceptance": {
                    "expected-statuses": ["2xx", "401", "403", "404", "409", "422"]
                }
            },
        }
    )
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, config=config), token


def typed_code(case):
    if "code" in case.path_parameters:
        return unquote(case.path_parameters["code"])
    return case.body["code"]


def operations(schema):
    found = []
    for result in schema.get_all_operations():
        found.append(result.ok())  # an invalid document fails here
    return found


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_the_api_matches_its_openapi_document(api_schema, mode):
    schema, token = api_schema
    headers = {
        "Authorization": f"Bearer {token}",
        "Accept-Language": "en",
        "Accept-Encoding": "identity",
    }
    seen = []
    for operation in operations(schema):

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case):
            response = case.call_and_validate(headers=headers)
            seen.append((case.operation.label, response.status_code))
            if mode == GenerationMode.POSITIVE and response.status_code == 422:
                body = response.json()
                assert (
                    body.get("result") == "not_confirmed"
                    or body.get("error") == "invalid_choice"
                    or (body.get("field") == "code" and not typed_code(case).strip())
                    # A time outside the last 24 hours, or a cursor this server did not
                    # give: well-formed, refused by the rules (the document says which).
                    or body.get("field") in ("scanned_at", "since")
                ), body

        run()
    assert len({label for label, _status in seen}) == 5
    assert all(status < 500 for _label, status in seen)
