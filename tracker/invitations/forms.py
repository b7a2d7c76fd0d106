"""The organiser's form for one invitee (the import reads the registration form's)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectField, ValidationError
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]  # (WTForms 3.2; its stubs lag)
from wtforms.form import BaseForm
from wtforms.validators import InputRequired

from tracker.i18n import lazy_gettext as _l
from tracker.models import InvitationState
from tracker.registration.forms import TYPE_LABELS, TypeField, email_field, text_field

LANGUAGE_LABELS = {"fr": _l("French"), "en": _l("English")}

STATE_LABELS = {
    InvitationState.CREATED.value: _l("Not sent yet"),
    InvitationState.SENT.value: _l("Invitation sent"),
    InvitationState.OPENED.value: _l("Link opened"),
    InvitationState.REGISTERED.value: _l("Has registered"),
    InvitationState.DECLINED.value: _l("Declined"),
}


class LanguageField(SelectField):
    """The language of the invitee's e-mails, with our own words for one not offered."""

    def pre_validate(self, form: BaseForm) -> None:
        if self.data not in LANGUAGE_LABELS:
            raise ValidationError(_l("Choose one of the languages offered."))


class InviteeForm(FlaskForm):
    first_name = text_field(_l("First name"), 100)
    last_name = text_field(_l("Last name"), 100)
    email = email_field(_l("E-mail address"))
    organisation = text_field(_l("Organisation"), 200, list="organisations")
    organisation_type = TypeField(
        _l("Type of organisation"),
        choices=[SelectChoice(t.value, label) for t, label in TYPE_LABELS.items()],
        validators=[InputRequired(_l("Choose the type of the organisation."))],
    )
    job_title = text_field(_l("Job title (optional)"), 200, required=False)
    locale = LanguageField(
        _l("Language of the e-mails"),
        choices=[SelectChoice(code, label) for code, label in LANGUAGE_LABELS.items()],
        default="fr",
    )
