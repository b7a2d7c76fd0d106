"""Organiser forms: an event, a session, a registration edited or added by hand."""

from __future__ import annotations

import functools
import re
import unicodedata
import zoneinfo
from datetime import datetime
from typing import Any

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    Field,
    Form,
    IntegerField,
    RadioField,
    StringField,
    TextAreaField,
    ValidationError,
)
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]  # (WTForms 3.2; its stubs lag)
from wtforms.validators import DataRequired, InputRequired, NumberRange, Optional
from wtforms.widgets import TextInput

from tracker.events.services import (
    DEFAULT_REMINDER_DAYS,
    QUOTA_MAX,
    REMINDER_DAYS_MAX,
    SLUG_RE,
)
from tracker.i18n import Text
from tracker.i18n import lazy_gettext as _l
from tracker.models import Admission, OrganisationType, Visibility
from tracker.registration.forms import (
    REQUIRED,
    EditRegistrationForm,
    MultiCheckboxField,
    at_most,
    no_control_characters,
    not_blank,
)

_REMINDER_RANGE = _l(
    "A whole number of days from 1 to %(max)d, or empty for no reminder.", max=REMINDER_DAYS_MAX
)
RESERVED_SLUGS = {"new"}  # /events/new is the creation page
FIRST_YEAR, LAST_YEAR = 2000, 2100


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


def text_without_controls(_form: Form, field: Field) -> None:
    """Like no_control_characters, but line breaks and tabs are welcome (a description)."""
    value = field.data or ""
    if any(unicodedata.category(c) in {"Cc", "Cs"} and c not in "\n\r\t" for c in value):
        raise ValidationError(_l("Control characters are not allowed here."))


@functools.cache
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def known_time_zone(_form: Form, field: Field) -> None:
    if field.data not in _time_zones():
        raise ValidationError(_l("Choose a time zone such as Europe/Paris."))


def plausible_year(_form: Form, field: Field) -> None:
    if field.data is not None and not FIRST_YEAR <= field.data.year <= LAST_YEAR:
        raise ValidationError(
            _l("Choose a date between %(first)d and %(last)d.", first=FIRST_YEAR, last=LAST_YEAR)
        )


# A date and time as typed in a form: day first, 24-hour clock ("04/01/2027 09:00", also
# "4/1/2027 9h00"), or the ISO form ("2027-01-04T09:00", "2027-01-04 09:00:00") that a
# datetime-local input sent and that scripts and tests send. The browser's own date picker
# follows the browser's language, not the page's (an English browser shows a French
# organiser 01/04/2027, 09:00 AM): a text input in one explicit format reads the same to
# everyone.
DAY_FIRST = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})[ T]+(\d{1,2})[:hH](\d{2})")
ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2}))?")
SHOWN_FORMAT = "%d/%m/%Y %H:%M"
# For the browser (the error message goes once the value has this shape); the server judges.
DATETIME_PATTERN = (
    r"\s*(\d{1,2}/\d{1,2}/\d{4}[ T]+\d{1,2}[:hH]\d{2}"
    r"|\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2})?)\s*"
)


def parse_local_datetime(text: str) -> datetime | None:
    """A naive local datetime from what was typed, None when it is not one (a day or an
    hour that does not exist included)."""
    text = text.strip()
    if match := DAY_FIRST.fullmatch(text):
        day, month, year, hour, minute = (int(g) for g in match.groups())
        second = 0
    elif match := ISO.fullmatch(text):
        year, month, day, hour, minute = (int(g) for g in match.groups()[:5])
        second = int(match.group(6) or 0)
    else:
        return None
    try:
        return datetime(year, month, day, hour, minute, second)
    except ValueError:
        return None


class LocalDateTimeField(Field):
    """A local date and time typed as DD/MM/YYYY HH:MM (see DAY_FIRST), shown the same
    way in both languages; `data` is a naive datetime, None when empty."""

    widget = TextInput()

    def _value(self) -> str:
        if self.raw_data:
            return self.raw_data[0]
        return self.data.strftime(SHOWN_FORMAT) if isinstance(self.data, datetime) else ""

    def process_formdata(self, valuelist: list[Any]) -> None:
        self.data = None
        if not valuelist or not str(valuelist[0]).strip():
            return
        self.data = parse_local_datetime(str(valuelist[0]))
        if self.data is None:
            raise ValueError(
                _l(
                    "Write the date and time as DD/MM/YYYY HH:MM (24-hour clock), "
                    "for example 04/01/2027 09:00."
                )
            )


def _when(label: Text, *, required: bool = False) -> LocalDateTimeField:
    first = InputRequired(REQUIRED) if required else Optional()
    return LocalDateTimeField(
        label,
        validators=[first, plausible_year],
        render_kw={
            "placeholder": _l("DD/MM/YYYY HH:MM"),
            "pattern": DATETIME_PATTERN,
            "autocomplete": "off",
            "size": 16,
        },
    )


def _count(label: Text) -> IntegerField:
    return IntegerField(
        label,
        validators=[
            Optional(),
            NumberRange(
                min=0,
                max=QUOTA_MAX,
                message=_l("A whole number from 0 to %(max)d, please.", max=QUOTA_MAX),
            ),
        ],
        render_kw={"min": 0, "inputmode": "numeric"},
    )


PER_ORGANISATION_LABELS = {
    OrganisationType.CLUSTER: _l("Per cluster"),
    OrganisationType.MINISTRY: _l("Per ministry"),
    OrganisationType.REGION: _l("Per region"),
    OrganisationType.AGENCY: _l("Per agency"),
    OrganisationType.OTHER: _l("Per other organisation"),
}

QUOTA_LABELS = {
    OrganisationType.CLUSTER: _l("Quota: clusters"),
    OrganisationType.MINISTRY: _l("Quota: ministries"),
    OrganisationType.REGION: _l("Quota: regions"),
    OrganisationType.AGENCY: _l("Quota: agencies"),
    OrganisationType.OTHER: _l("Quota: other"),
}


VISIBILITY_LABELS = {
    Visibility.DRAFT: _l("Draft: only the event’s organisers and administrators see it"),
    Visibility.UNLISTED: _l(
        "Unlisted: anyone with its link can see it and register; not on the home page"
    ),
    Visibility.PUBLIC: _l("Public: listed on the home page"),
}
VISIBILITY_SHORT_LABELS = {
    Visibility.DRAFT: _l("Draft"),
    Visibility.UNLISTED: _l("Unlisted"),
    Visibility.PUBLIC: _l("Public"),
}


ADMISSION_LABELS = {
    Admission.OPEN: _l("Open: anyone registers through the public form"),
    Admission.INVITATION: _l(
        "By invitation only: only through an invitation’s personal link (the door and "
        "the organisers still add people)"
    ),
    Admission.MIXED: _l("Mixed: the public form, and invitees through their personal link"),
}


class EventForm(FlaskForm):
    title = StringField(
        _l("Title"),
        validators=[DataRequired(REQUIRED), not_blank, at_most(300), no_control_characters],
        filters=[_strip],
    )
    description = TextAreaField(
        _l("Description"),
        validators=[Optional(), at_most(5000), text_without_controls],
        filters=[_strip],
    )
    venue = StringField(
        _l("Venue"), validators=[Optional(), at_most(300), no_control_characters], filters=[_strip]
    )
    organiser = StringField(
        _l("Organiser"),
        validators=[Optional(), at_most(300), no_control_characters],
        filters=[_strip],
    )
    timezone = StringField(
        _l("Time zone"),
        validators=[DataRequired(REQUIRED), known_time_zone],
        filters=[_strip],
        default="Europe/Paris",
        render_kw={"list": "time-zones", "autocomplete": "off"},
    )
    starts_at = _when(_l("Starts"), required=True)
    ends_at = _when(_l("Ends"))
    registration_opens_at = _when(_l("Registration opens"))
    registration_closes_at = _when(_l("Registration closes"))
    edit_deadline = _when(_l("Changes allowed until"))
    capacity = _count(_l("Capacity"))
    reminder_days = IntegerField(
        _l("Reminder, days before the start"),
        validators=[Optional(), NumberRange(1, REMINDER_DAYS_MAX, _REMINDER_RANGE)],
        default=DEFAULT_REMINDER_DAYS,
        render_kw={"min": 1, "max": REMINDER_DAYS_MAX, "inputmode": "numeric"},
    )
    quota_cluster = _count(QUOTA_LABELS[OrganisationType.CLUSTER])
    quota_ministry = _count(QUOTA_LABELS[OrganisationType.MINISTRY])
    quota_region = _count(QUOTA_LABELS[OrganisationType.REGION])
    quota_agency = _count(QUOTA_LABELS[OrganisationType.AGENCY])
    quota_other = _count(QUOTA_LABELS[OrganisationType.OTHER])
    per_organisation = _count(_l("Places per organisation"))
    per_organisation_cluster = _count(PER_ORGANISATION_LABELS[OrganisationType.CLUSTER])
    per_organisation_ministry = _count(PER_ORGANISATION_LABELS[OrganisationType.MINISTRY])
    per_organisation_region = _count(PER_ORGANISATION_LABELS[OrganisationType.REGION])
    per_organisation_agency = _count(PER_ORGANISATION_LABELS[OrganisationType.AGENCY])
    per_organisation_other = _count(PER_ORGANISATION_LABELS[OrganisationType.OTHER])
    # Left out of a form sent (a script), the event keeps its visibility: the view
    # gives the current one as the default.
    visibility = RadioField(
        _l("Visibility"),
        choices=[SelectChoice(v.value, label) for v, label in VISIBILITY_LABELS.items()],
        default=Visibility.PUBLIC.value,
    )

    # As the visibility: left out of a form sent, the event keeps what it had.
    badge_job_title = RadioField(
        _l("Job title on badges"),
        choices=[
            SelectChoice("yes", _l("Printed on badges, and shown at the door")),
            SelectChoice("no", _l("Not printed, and not shown at the door")),
        ],
        default="yes",
    )

    # As the visibility: left out of a form sent, the event keeps what it had.
    admission = RadioField(
        _l("Who may register"),
        choices=[SelectChoice(a.value, label) for a, label in ADMISSION_LABELS.items()],
        default=Admission.OPEN.value,
    )
    reserved_for_invitees = _count(_l("Places reserved for invitees"))

    def quota_fields(self) -> list[Field]:
        return [getattr(self, f"quota_{t.value}") for t in OrganisationType]

    def per_organisation_fields(self) -> list[Field]:
        return [getattr(self, f"per_organisation_{t.value}") for t in OrganisationType]

    def per_organisation_types(self) -> dict[str, int]:
        return {
            t.value: getattr(self, f"per_organisation_{t.value}").data
            for t in OrganisationType
            if getattr(self, f"per_organisation_{t.value}").data is not None
        }

    def quotas(self) -> dict[str, int]:
        return {
            t.value: getattr(self, f"quota_{t.value}").data
            for t in OrganisationType
            if getattr(self, f"quota_{t.value}").data is not None
        }


def valid_slug(_form: Form, field: Field) -> None:
    if not SLUG_RE.match(field.data or "") or field.data in RESERVED_SLUGS:
        raise ValidationError(
            _l("The slug may hold only lower-case letters, digits and dashes (at most 80).")
        )


class NewEventForm(EventForm):
    # A new event is a draft until its organiser makes it public or unlisted: set up
    # (sessions, quotas) before anyone can see it or register.
    visibility = RadioField(
        _l("Visibility"),
        choices=[SelectChoice(v.value, label) for v, label in VISIBILITY_LABELS.items()],
        default=Visibility.DRAFT.value,
    )
    slug = StringField(
        _l("Slug (the event's address: /events/<slug>)"),
        validators=[DataRequired(REQUIRED), valid_slug],
        filters=[_strip],
        render_kw={"autocomplete": "off", "maxlength": 80, "pattern": "[a-z0-9-]+"},
    )


class SessionForm(FlaskForm):
    title = StringField(
        _l("Title"),
        validators=[DataRequired(REQUIRED), not_blank, at_most(300), no_control_characters],
        filters=[_strip],
    )
    kind = StringField(
        _l("Kind (plenary, round table…)"),
        validators=[Optional(), at_most(40), no_control_characters],
        filters=[_strip],
    )
    room = StringField(
        _l("Room"), validators=[Optional(), at_most(200), no_control_characters], filters=[_strip]
    )
    starts_at = _when(_l("Starts"))
    ends_at = _when(_l("Ends"))
    capacity = _count(_l("Capacity"))


OVERRIDE_LABEL = _l(
    "Allow going over capacity (the event’s, a type’s quota, an organisation’s places or a "
    "session’s)"
)
OVERLAP_LABEL = _l("Allow sessions held at the same time")


class OrganiserRegistrationForm(EditRegistrationForm):
    """The registration form's fields, as an organiser edits them."""

    website = None  # type: ignore[assignment]  # no honeypot behind a login
    sessions = MultiCheckboxField(_l("Sessions"), coerce=int, choices=[])
    override = BooleanField(OVERRIDE_LABEL)
    allow_overlap = BooleanField(OVERLAP_LABEL)


class NewRegistrationForm(OrganiserRegistrationForm):
    # Back, after EditRegistrationForm took it away (None removes a WTForms field).
    consent = BooleanField(  # type: ignore[assignment]
        _l(
            "This person agreed that their data is processed to manage their registration "
            "and attendance."
        ),
        validators=[
            DataRequired(_l("Confirm that this person agreed to the processing of their data."))
        ],
    )
    send_email = BooleanField(_l("E-mail them the confirmation"), default=True)
