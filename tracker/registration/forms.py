"""The registration form. Its field names are a contract (CSV import reuses them)."""

from __future__ import annotations

import unicodedata
from typing import Any

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    Field,
    Form,
    RadioField,
    SelectMultipleField,
    StringField,
    ValidationError,
    widgets,
)
from wtforms.fields import EmailField
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]  # (WTForms 3.2; its stubs lag)
from wtforms.form import BaseForm
from wtforms.validators import DataRequired, Email, InputRequired, Length, Optional

from tracker.i18n import Text
from tracker.i18n import lazy_gettext as _l
from tracker.models import OrganisationType, RegistrationSource
from tracker.registration.services import RegistrationData

# Control characters (C0, C1, DEL), line/paragraph separators and lone surrogates are
# refused; everything else, emoji joiners and right-to-left marks included, is kept.
_REFUSED_CATEGORIES = {"Cc", "Cs", "Zl", "Zp"}


def has_control_characters(value: str) -> bool:
    """What a one-line input must not hold (forms and the JSON API alike)."""
    return any(unicodedata.category(c) in _REFUSED_CATEGORIES for c in value)


def no_control_characters(_form: Form, field: Field) -> None:
    if has_control_characters(field.data or ""):
        raise ValidationError(_l("Control characters and line breaks are not allowed here."))


def not_blank(_form: Form, field: Field) -> None:
    if field.data is not None and not str(field.data).strip():
        raise ValidationError(_l("This field is required."))


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


TYPE_LABELS = {
    OrganisationType.CLUSTER: _l("Competitiveness cluster (pôle de compétitivité)"),
    OrganisationType.MINISTRY: _l("Ministry"),
    OrganisationType.REGION: _l("Region"),
    OrganisationType.AGENCY: _l("Public agency"),
    OrganisationType.OTHER: _l("Other"),
}
TYPE_SHORT_LABELS = {
    OrganisationType.CLUSTER: _l("Cluster"),
    OrganisationType.MINISTRY: _l("Ministry"),
    OrganisationType.REGION: _l("Region"),
    OrganisationType.AGENCY: _l("Agency"),
    OrganisationType.OTHER: _l("Other"),
}

STATUS_LABELS = {
    "confirmed": _l("Confirmed"),
    "waitlisted": _l("Waitlisted"),
    "cancelled": _l("Cancelled"),
}
# The e-mails a registration is sent (tracker.registration.notify's kinds) and their
# states in the outbox (tracker.mail).
MAIL_KIND_LABELS = {
    "confirmation": _l("Confirmation"),
    "link": _l("Private link sent again"),
    "promoted": _l("Place confirmed from the waitlist"),
    "cancelled": _l("Cancellation"),
    "reminder": _l("Reminder"),  # tracker.mailings
    "message": _l("Message"),
    "certificate": _l("Certificate of attendance"),
    "delegation": _l("Delegation summary to its contact"),
    "invitation": _l("Invitation"),  # tracker.invitations
    "invitation_reminder": _l("Reminder of an invitation"),
}
MAIL_STATE_LABELS = {
    "queued": _l("Queued"),
    "sent": _l("Sent"),
    "failed": _l("Failed"),
}
SOURCE_LABELS = {
    RegistrationSource.ONLINE.value: _l("Online"),
    RegistrationSource.WALK_IN.value: _l("Walk-in"),
    RegistrationSource.IMPORT.value: _l("Import"),
    RegistrationSource.MANUAL.value: _l("By hand"),
}


class MultiCheckboxField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


REQUIRED = _l("This field is required.")


def at_most(n: int) -> Length:
    return Length(max=n, message=_l("At most %(max)d characters, please."))


class TypeField(RadioField):
    """The organisation type, with our own wording for a value that is not offered."""

    def pre_validate(self, form: BaseForm) -> None:
        if self.data not in {c.value for c in OrganisationType}:
            raise ValidationError(_l("Choose the type of your organisation."))


def text_field(label: Text, length: int, *, required: bool = True, **render_kw: object) -> Any:
    """A one-line text field: stripped, bounded, no control characters; required unless
    told otherwise."""
    presence = [DataRequired(REQUIRED), not_blank] if required else [Optional()]
    return StringField(
        label,
        validators=[*presence, at_most(length), no_control_characters],
        filters=[_strip],
        render_kw={"maxlength": length, **render_kw},
    )


def email_field(label: Text, *, required: bool = True, **render_kw: object) -> Any:
    presence = DataRequired(REQUIRED) if required else Optional()
    return EmailField(
        label,
        validators=[
            presence,
            at_most(254),
            no_control_characters,
            Email(_l("Enter a valid e-mail address."), check_deliverability=False),
        ],
        filters=[_strip],
        render_kw={"maxlength": 254, **render_kw},
    )


class HoneypotForm(FlaskForm):
    """A public form's trap: a field hidden from people, filled by naive bots (whose
    form is then answered as if it were saved)."""

    website = StringField(
        _l("Leave this field empty"), render_kw={"autocomplete": "off", "tabindex": "-1"}
    )

    def is_bot(self) -> bool:
        return bool((self.website.data or "").strip())


class RegistrationForm(HoneypotForm):
    first_name = text_field(_l("First name"), 100, autocomplete="given-name")
    last_name = text_field(_l("Last name"), 100, autocomplete="family-name")
    email = email_field(_l("E-mail address"), autocomplete="email")
    organisation = text_field(
        _l("Organisation"), 200, autocomplete="organization", list="organisations"
    )
    organisation_type = TypeField(
        _l("Type of organisation"),
        choices=[SelectChoice(t.value, label) for t, label in TYPE_LABELS.items()],
        validators=[InputRequired(_l("Choose the type of your organisation."))],
    )
    job_title = text_field(
        _l("Job title (optional)"), 200, required=False, autocomplete="organization-title"
    )
    sessions = MultiCheckboxField(_l("Sessions you will attend"), coerce=int, choices=[])
    consent = BooleanField(
        _l("I agree that my data is processed to manage my registration and attendance."),
        validators=[DataRequired(_l("Your consent is required to register."))],
    )


class EditRegistrationForm(RegistrationForm):
    """The same fields, minus consent already given."""

    consent = None  # type: ignore[assignment]


def registration_data(
    form: RegistrationForm, *, locale: str, session_ids: list[int] | None = None
) -> RegistrationData:
    """What a validated registration form says, as the services take it: the public
    form, an organiser's, and a row of an imported list (read through
    EditRegistrationForm, its sessions named in a cell: `session_ids`). The person's
    consent is the form's (required by the public one and by an organiser's new
    registration) or the word of the organiser who edits or imports."""
    return RegistrationData(
        first_name=form.first_name.data,
        last_name=form.last_name.data,
        email=form.email.data,
        organisation=form.organisation.data,
        organisation_type=OrganisationType(form.organisation_type.data),
        job_title=form.job_title.data or None,
        session_ids=list(form.sessions.data or []) if session_ids is None else session_ids,
        consent=True,
        locale=locale,
    )
