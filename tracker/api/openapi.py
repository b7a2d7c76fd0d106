"""The OpenAPI 3 description of the JSON API v1, served at /api/v1/openapi.json.

tests/test_openapi.py checks the implementation against it with schemathesis.
"""

from __future__ import annotations

from typing import Any

from tracker.errors import MAX_URI_LENGTH
from tracker.models import OrganisationType, RegistrationSource, RegistrationStatus

MAX_ID = 2**31 - 1
# No control characters (they are refused with a 422).
PRINTABLE = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(_ref("Error"), description)


ID = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
TIMESTAMP = {"type": "string", "format": "date-time"}
NULLABLE_TIMESTAMP = {"type": "string", "format": "date-time", "nullable": True}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error", "message"],
        "properties": {
            "error": {
                "type": "string",
                "description": "A stable code: unauthorized, invalid_token, forbidden, "
                "csrf_failed, not_found, invalid_body, invalid, invalid_choice, too_large, "
                "uri_too_long, method_not_allowed (with an Allow header), bad_request, "
                "unknown_host (a Host header the server does not answer to), "
                "internal_error, ...",
            },
            "message": {"type": "string", "description": "For people, in their language."},
            "field": {"type": "string", "description": "The input at fault, if one is."},
        },
    },
    "Registration": {
        "type": "object",
        "required": [
            "id",
            "first_name",
            "last_name",
            "organisation",
            "organisation_type",
            "status",
            "checked_in_at",
        ],
        "properties": {
            "id": ID,
            "first_name": {"type": "string"},
            "last_name": {"type": "string"},
            "organisation": {"type": "string"},
            "organisation_type": {"type": "string", "enum": [t.value for t in OrganisationType]},
            "job_title": {
                "type": "string",
                "nullable": True,
                "description": "Null unless the event prints job titles on its badges.",
            },
            "status": {"type": "string", "enum": [s.value for s in RegistrationStatus]},
            "source": {"type": "string", "enum": [s.value for s in RegistrationSource]},
            "sessions": {
                "type": "array",
                "description": "The sessions this person registered for.",
                "items": {
                    "type": "object",
                    "required": ["id", "title"],
                    "properties": {"id": ID, "title": {"type": "string"}},
                },
            },
            "checked_in_at": {
                **NULLABLE_TIMESTAMP,
                "description": "Check-in at the event's entrance (UTC), or null.",
            },
            "session_checkins": {
                "type": "object",
                "description": "Session id -> check-in time (UTC), per session attended.",
                "additionalProperties": TIMESTAMP,
            },
            "answers": {
                "type": "array",
                "description": "The answers to the event's questions marked as shown at "
                "the door, in the questions' order (a yes/no answer in the reader's "
                "language, several options joined by commas); none to the other questions. "
                "Empty when no question is marked or none was answered.",
                "items": {
                    "type": "object",
                    "required": ["label", "value"],
                    "properties": {"label": {"type": "string"}, "value": {"type": "string"}},
                },
            },
        },
    },
    "CheckInRequest": {
        "type": "object",
        "description": "Exactly one of `code` (as scanned or typed: case, spaces and dashes "
        "are ignored) and `registration` (an id from the search).",
        "additionalProperties": False,
        "properties": {
            "code": {"type": "string", "minLength": 1, "maxLength": 64, "pattern": PRINTABLE},
            "registration": ID,
            "session": {
                **ID,
                "nullable": True,
                "description": "A session of the event; absent or null: the entrance.",
            },
            "door": {
                "type": "string",
                "maxLength": 100,
                "pattern": PRINTABLE,
                "nullable": True,
                "description": "The name of the device or door, shown to the next door "
                "that scans the same person.",
            },
            "nonce": {
                "type": "string",
                "maxLength": 64,
                "pattern": PRINTABLE,
                "nullable": True,
                "description": "Unique per attempt: sending it again (a retry) gives the "
                "first answer back and counts once. Empty or null: no nonce.",
            },
            "registered_only": {
                "type": "boolean",
                "nullable": True,
                "default": False,
                "description": "With a session: true refuses a person who did not register "
                "for it (409, result not_registered; nothing is checked in). To let them "
                "in anyway, send the check-in again without it, with a new nonce. Absent, "
                "null or false: they are checked in (201), as always.",
            },
            "scanned_at": {
                "type": "string",
                "format": "date-time",
                "maxLength": 40,
                "nullable": True,
                "description": "For a check-in sent after a network cut: the device's time of "
                "the scan, with its offset (ISO 8601). It becomes the check-in's time (the "
                "server keeps its own as well). Refused (422) when more than 24 hours old or "
                "in the future (a device clock up to 2 minutes fast is accepted). If the "
                "person is already checked in there, the first by time stands: an earlier "
                "scan takes the place of the later one (201), a later one is answered 409 "
                "as usual; either way the other is kept as a duplicate for the organisers.",
            },
        },
        "oneOf": [{"required": ["code"]}, {"required": ["registration"]}],
    },
    "CheckedIn": {
        "type": "object",
        "required": ["result", "registration"],
        "properties": {
            "result": {"type": "string", "enum": ["ok"]},
            "registration": _ref("Registration"),
        },
    },
    "AlreadyCheckedIn": {
        "type": "object",
        "required": ["result", "checked_in_at", "door", "by"],
        "properties": {
            "result": {"type": "string", "enum": ["already_checked_in"]},
            "checked_in_at": TIMESTAMP,
            "door": {"type": "string"},
            "by": {"type": "string", "nullable": True, "description": "The account's e-mail."},
            "registration": _ref("Registration"),
        },
    },
    "NotRegistered": {
        "type": "object",
        "required": ["result", "session", "registration"],
        "properties": {
            "result": {"type": "string", "enum": ["not_registered"]},
            "session": {
                "type": "object",
                "required": ["id", "title"],
                "properties": {"id": ID, "title": {"type": "string"}},
            },
            "registration": _ref("Registration"),
        },
    },
    "Unknown": {
        "type": "object",
        "required": ["result"],
        "properties": {
            "result": {"type": "string", "enum": ["unknown"]},
            "reason": {"type": "string", "enum": ["unknown_code", "other_event"]},
        },
    },
    "NotConfirmed": {
        "type": "object",
        "required": ["result", "status"],
        "properties": {
            "result": {"type": "string", "enum": ["not_confirmed"]},
            "status": {"type": "string", "enum": ["waitlisted", "cancelled"]},
            "registration": _ref("Registration"),
        },
    },
    "Undone": {
        "type": "object",
        "required": ["result", "registration"],
        "properties": {
            "result": {"type": "string", "enum": ["undone", "not_checked_in"]},
            "registration": _ref("Registration"),
        },
    },
    "SearchResults": {
        "type": "object",
        "required": ["registrations"],
        "properties": {"registrations": {"type": "array", "items": _ref("Registration")}},
    },
    "Stats": {
        "type": "object",
        "required": [
            "registered",
            "confirmed",
            "waitlisted",
            "cancelled",
            "checked_in",
            "no_show",
            "started",
            "by_type",
            "by_session",
        ],
        "properties": {
            "registered": {"type": "integer", "minimum": 0},
            "confirmed": {"type": "integer", "minimum": 0},
            "waitlisted": {"type": "integer", "minimum": 0},
            "cancelled": {"type": "integer", "minimum": 0},
            "checked_in": {
                "type": "integer",
                "minimum": 0,
                "description": "Checked in at the entrance.",
            },
            "no_show": {
                "type": "integer",
                "minimum": 0,
                "description": "Confirmed and not checked in at the entrance: no-shows once "
                "the event has started, people who have not arrived yet before (see started).",
            },
            "started": {
                "type": "boolean",
                "description": "Whether the event has started (its start time has passed).",
            },
            "by_type": {
                "type": "object",
                "description": "Per organisation type: confirmed and checked in.",
                "required": [t.value for t in OrganisationType],
                "properties": {
                    t.value: {
                        "type": "object",
                        "required": ["confirmed", "checked_in"],
                        "properties": {
                            "confirmed": {"type": "integer", "minimum": 0},
                            "checked_in": {"type": "integer", "minimum": 0},
                        },
                    }
                    for t in OrganisationType
                },
            },
            "by_session": {
                "type": "array",
                "description": "Per session: registered (not cancelled) and checked in.",
                "items": {
                    "type": "object",
                    "required": ["id", "title", "registered", "checked_in"],
                    "properties": {
                        "id": ID,
                        "title": {"type": "string"},
                        "registered": {"type": "integer", "minimum": 0},
                        "checked_in": {"type": "integer", "minimum": 0},
                    },
                },
            },
            "counters": {
                "type": "object",
                "description": "The door's live counters: present / expected (confirmed), "
                "at the entrance and per session.",
                "required": ["present", "expected", "sessions"],
                "properties": {
                    "present": {"type": "integer", "minimum": 0},
                    "expected": {"type": "integer", "minimum": 0},
                    "sessions": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["id", "title", "present", "expected"],
                            "properties": {
                                "id": ID,
                                "title": {"type": "string"},
                                "present": {"type": "integer", "minimum": 0},
                                "expected": {"type": "integer", "minimum": 0},
                            },
                        },
                    },
                },
            },
        },
    },
}

SLUG = {
    "name": "slug",
    "in": "path",
    "required": True,
    "description": "The event's address, as in /events/<slug>.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 80},
}

COMMON_ERRORS = {
    "401": _error("No valid token, and no logged-in session."),
    "403": _error(
        "The account's role may not do this, it has no access to this event, or (for a "
        "session) the X-CSRFToken header is missing or wrong."
    ),
    # Every operation: the path and query string together are over 4,000 bytes.
    "414": _error(f"The URI is too long (path and query string over {MAX_URI_LENGTH:,} bytes)."),
}


DOOR_SCHEMAS: dict[str, Any] = {
    "DoorPerson": {
        "type": "object",
        "description": "A registration as a door keeps it offline: never its check-in code "
        "nor an e-mail address.",
        "required": [
            "id",
            "first_name",
            "last_name",
            "organisation",
            "organisation_type",
            "job_title",
            "status",
            "sessions",
            "checkins",
            "code_sha256",
        ],
        "properties": {
            "id": ID,
            "first_name": {"type": "string"},
            "last_name": {"type": "string"},
            "organisation": {"type": "string"},
            "organisation_type": {"type": "string"},
            "job_title": {"type": "string", "nullable": True},
            "status": {"type": "string", "enum": ["confirmed", "waitlisted", "cancelled"]},
            "sessions": {"type": "array", "items": ID, "description": "Session ids."},
            "checkins": {
                "type": "object",
                "description": 'By scope: "0" the entrance, else a session id.',
                "additionalProperties": {
                    "type": "object",
                    "required": ["at", "door"],
                    "properties": {
                        "at": {"type": "string", "format": "date-time"},
                        "door": {"type": "string"},
                    },
                },
            },
            "code_sha256": {
                "type": "string",
                "pattern": "^[0-9a-f]{64}$",
                "description": "SHA-256 (hex) of the check-in code as printed in the QR "
                "code (upper case, no spaces).",
            },
        },
    },
    "DoorSnapshot": {
        "type": "object",
        "required": ["cursor", "full", "event", "ends_at", "sessions", "people", "removed"],
        "properties": {
            "cursor": {
                "type": "string",
                "description": "Send it back as `since` to get only who changed.",
            },
            "full": {
                "type": "boolean",
                "description": "true: everyone (replace what you kept); false: changes.",
            },
            "event": {"type": "string"},
            "ends_at": {"type": "string", "format": "date-time"},
            "sessions": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["id", "title"],
                    "properties": {"id": ID, "title": {"type": "string"}},
                },
            },
            "people": {"type": "array", "items": _ref("DoorPerson")},
            "removed": {
                "type": "array",
                "items": ID,
                "description": "Ids to forget (kept for later use; empty today).",
            },
        },
    },
}


def _paths() -> dict[str, Any]:
    return {
        "/events/{slug}/door-snapshot": {
            "get": {
                "operationId": "doorSnapshot",
                "summary": "What a door keeps to work offline, by deltas",
                "description": "Without `since`: everyone registered (every status). With "
                "the `cursor` of the previous answer: only the people whose registration or "
                "check-ins changed since (a few may come again: merge by id). Pull every "
                "few seconds while online. Gzipped when the client accepts it.",
                "parameters": [
                    SLUG,
                    {
                        "name": "since",
                        "in": "query",
                        "required": False,
                        "description": "The cursor of the previous answer.",
                        "schema": {"type": "string", "maxLength": 40},
                    },
                ],
                "responses": {
                    "200": _json(_ref("DoorSnapshot"), "The people, and the next cursor."),
                    "404": _error("No such event."),
                    "422": _error("A cursor this server did not give."),
                    **COMMON_ERRORS,
                },
            }
        },
        "/events/{slug}/checkins": {
            "post": {
                "operationId": "checkIn",
                "summary": "Check a person in, at the entrance or in one session",
                "parameters": [SLUG],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("CheckInRequest")}},
                },
                "responses": {
                    "201": _json(_ref("CheckedIn"), "Checked in now."),
                    "409": _json(
                        {"anyOf": [_ref("AlreadyCheckedIn"), _ref("NotRegistered")]},
                        "Already checked in (when, where, by whom); or, asked with "
                        "registered_only, not registered for the session.",
                    ),
                    "404": _json(
                        {"anyOf": [_ref("Unknown"), _ref("Error")]},
                        "Unknown code or registration (or another event's), or no such event.",
                    ),
                    "422": _json(
                        {"anyOf": [_ref("NotConfirmed"), _ref("Error")]},
                        "Waitlisted or cancelled; or an invalid field.",
                    ),
                    "400": _error("The body is not a JSON object."),
                    "413": _error("The body is too large."),
                    **COMMON_ERRORS,
                },
            }
        },
        "/events/{slug}/checkins/{code}": {
            "delete": {
                "operationId": "undoCheckIn",
                "summary": "Undo a check-in",
                "parameters": [
                    SLUG,
                    {
                        "name": "code",
                        "in": "path",
                        "required": True,
                        "description": "The check-in code (case, spaces and dashes ignored).",
                        "schema": {
                            "type": "string",
                            "minLength": 1,
                            "maxLength": 64,
                            "pattern": PRINTABLE,
                        },
                    },
                    {
                        "name": "session",
                        "in": "query",
                        "required": False,
                        "description": "Undo the check-in to this session (default: entrance).",
                        "schema": ID,
                    },
                    {
                        "name": "door",
                        "in": "query",
                        "required": False,
                        "description": "The door undoing it, for the scan log.",
                        "schema": {"type": "string", "maxLength": 100, "pattern": PRINTABLE},
                    },
                ],
                "responses": {
                    "200": _json(_ref("Undone"), "The check-in is undone."),
                    "404": _json(
                        {"anyOf": [_ref("Undone"), _ref("Unknown"), _ref("Error")]},
                        "Not checked in (result not_checked_in), unknown code, or no such event.",
                    ),
                    "422": _error("An invalid parameter."),
                    **COMMON_ERRORS,
                },
            }
        },
        "/events/{slug}/registrations": {
            "get": {
                "operationId": "searchRegistrations",
                "summary": "Search by name, organisation or e-mail (case and accents ignored)",
                "parameters": [
                    SLUG,
                    {
                        "name": "q",
                        "in": "query",
                        "required": False,
                        "description": "Words that must all appear; empty lists everyone.",
                        "schema": {"type": "string", "maxLength": 200},
                    },
                    {
                        "name": "limit",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
                    },
                ],
                "responses": {
                    "200": _json(_ref("SearchResults"), "Matching registrations, by name."),
                    "404": _error("No such event."),
                    "422": _error("An invalid parameter."),
                    **COMMON_ERRORS,
                },
            }
        },
        "/events/{slug}/stats": {
            "get": {
                "operationId": "eventStats",
                "summary": "Headline figures and the door's live counters",
                "parameters": [SLUG],
                "responses": {
                    "200": _json(_ref("Stats"), "The figures."),
                    "404": _error("No such event."),
                    **COMMON_ERRORS,
                },
            }
        },
    }


def openapi_document() -> dict[str, Any]:
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "tracker API",
            "version": "1",
            "description": "Door check-in, search and live figures for one event. "
            "Authenticate with `Authorization: Bearer <token>` (`tracker token create EMAIL "
            '--name "Door A"`), or from a page of the app with its logged-in session and '
            "the page's CSRF token in the `X-CSRFToken` header. Door, organiser and admin "
            "accounts may use it, for the events they have access to. Errors are "
            '`{"error": <code>, "message": <text>}`.',
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearerAuth": []}],
        "paths": _paths(),
        "components": {
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API token from `tracker token create`.",
                }
            },
            "schemas": {**SCHEMAS, **DOOR_SCHEMAS},
        },
    }
