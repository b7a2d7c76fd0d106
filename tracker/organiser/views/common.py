"""What the organiser pages share: the acting account, error display, page context."""

from __future__ import annotations

import re
from typing import Any

from flask import (
    flash,
)
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm

from tracker.errors import DomainError
from tracker.i18n import lazy_gettext as _l
from tracker.models import (
    User,
)
from tracker.organiser.forms import (
    OVERLAP_LABEL,
)
from tracker.registration import services as registrations
from tracker.registration.forms import (
    MAIL_KIND_LABELS,
    MAIL_STATE_LABELS,
    SOURCE_LABELS,
    STATUS_LABELS,
    TYPE_SHORT_LABELS,
)

INVALID = 422  # a form sent back with errors: nothing saved
PENDING_IMPORT = "pending_import"
IMPORT_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{20,64}$")
IMPORT_MAX_AGE = 24 * 3600  # uploaded files not imported within a day are removed

TIME_ZONES = (
    "Europe/Paris",
    "America/Cayenne",
    "America/Guadeloupe",
    "America/Martinique",
    "America/Miquelon",
    "Indian/Mayotte",
    "Indian/Reunion",
    "Pacific/Noumea",
    "Pacific/Tahiti",
    "Pacific/Wallis",
    "Europe/Brussels",
    "Europe/London",
    "UTC",
)

FIELD_LABELS = {
    "first_name": _l("First name"),
    "last_name": _l("Last name"),
    "email": _l("E-mail address"),
    "organisation": _l("Organisation"),
    "organisation_type": _l("Type"),
    "job_title": _l("Job title"),
    "sessions": _l("Sessions"),
    "status": _l("Status"),
    "source": _l("Source"),
    "override": _l("Over capacity"),
    "subject": _l("Subject"),
}


def _actor() -> User:
    return current_user._get_current_object()


def _show_domain_error(form: FlaskForm, error: DomainError) -> None:
    field = getattr(form, error.field, None) if error.field else None
    if field is not None and hasattr(field, "errors"):
        field.errors = [*field.errors, error.message]
        if isinstance(error, registrations.SessionsOverlap):
            field.errors.append(_("Tick “%(label)s” to save anyway.", label=OVERLAP_LABEL))
    else:
        flash(str(error.message), "error")


def _common() -> dict[str, Any]:
    return {
        "status_labels": STATUS_LABELS,
        "source_labels": SOURCE_LABELS,
        "mail_kind_labels": MAIL_KIND_LABELS,
        "mail_state_labels": MAIL_STATE_LABELS,
        "type_labels": {t.value: label for t, label in TYPE_SHORT_LABELS.items()},
    }
