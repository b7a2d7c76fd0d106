"""The registration form. Its field names are a contract (CSV import reuses them)."""

from __future__ import annotations

import unicodedata

from flask_babel import lazy_gettext as _l
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
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, InputRequired, Length, Optional

from tracker.models import OrganisationType

# Control characters (C0, C1, DEL), line/paragraph separators and lone surrogates are
# refused; everything else, emoji joiners and right-to-left marks included, is kept.
_REFUSED_CATEGORIES = {"Cc", "Cs", "Zl", "Zp"}


def no_control_characters(_form: Form, field: Field) -> None:
    value = field.data or ""
    if any(unicodedata.category(c) in _REFUSED_CATEGORIES for c in value):
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


class MultiCheckboxField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


REQUIRED = _l("This field is required.")


def at_most(n: int) -> Length:
    return Length(max=n, message=_l("At most %(max)d characters, please."))


class TypeField(RadioField):
    """The organisation type, with our own wording for a value that is not offered."""

    def pre_validate(self, form: Form) -> None:
        if self.data not in {c.value for c in OrganisationType}:
            raise ValidationError(_l("Choose the type of your organisation."))


class RegistrationForm(FlaskForm):
    first_name = StringField(
        _l("First name"),
        validators=[DataRequired(REQUIRED), not_blank, at_most(100), no_control_characters],
        filters=[_strip],
        render_kw={"autocomplete": "given-name", "maxlength": 100},
    )
    last_name = StringField(
        _l("Last name"),
        validators=[DataRequired(REQUIRED), not_blank, at_most(100), no_control_characters],
        filters=[_strip],
        render_kw={"autocomplete": "family-name", "maxlength": 100},
    )
    email = EmailField(
        _l("E-mail address"),
        validators=[
            DataRequired(REQUIRED),
            at_most(254),
            no_control_characters,
            Email(_l("Enter a valid e-mail address."), check_deliverability=False),
        ],
        filters=[_strip],
        render_kw={"autocomplete": "email", "maxlength": 254},
    )
    organisation = StringField(
        _l("Organisation"),
        validators=[DataRequired(REQUIRED), not_blank, at_most(200), no_control_characters],
        filters=[_strip],
        render_kw={"autocomplete": "organization", "maxlength": 200, "list": "organisations"},
    )
    organisation_type = TypeField(
        _l("Type of organisation"),
        choices=[SelectChoice(t.value, label) for t, label in TYPE_LABELS.items()],
        validators=[InputRequired(_l("Choose the type of your organisation."))],
    )
    job_title = StringField(
        _l("Job title (optional)"),
        validators=[Optional(), at_most(200), no_control_characters],
        filters=[_strip],
        render_kw={"autocomplete": "organization-title", "maxlength": 200},
    )
    sessions = MultiCheckboxField(_l("Sessions you will attend"), coerce=int, choices=[])
    consent = BooleanField(
        _l("I agree that my data is processed to manage my registration and attendance."),
        validators=[DataRequired(_l("Your consent is required to register."))],
    )
    # Honeypot: hidden from people, filled by naive bots.
    website = StringField(
        _l("Leave this field empty"), render_kw={"autocomplete": "off", "tabindex": "-1"}
    )

    def is_bot(self) -> bool:
        return bool((self.website.data or "").strip())


class EditRegistrationForm(RegistrationForm):
    """The same fields, minus consent already given."""

    consent = None  # type: ignore[assignment]
