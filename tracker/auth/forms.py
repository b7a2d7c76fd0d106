"""Login and account forms. The login fields are a contract: `email`, `password`."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import Field, Form, PasswordField, RadioField, StringField, ValidationError
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]  # (WTForms 3.2; its stubs lag)
from wtforms.form import BaseForm
from wtforms.validators import DataRequired

from tracker.auth.services import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from tracker.i18n import Text
from tracker.i18n import lazy_gettext as _l
from tracker.models import Role
from tracker.registration.forms import (
    REQUIRED,
    MultiCheckboxField,
    _strip,
    at_most,
    email_field,
    no_control_characters,
)

ROLE_LABELS = {
    Role.ADMIN: _l("Administrator: everything, accounts included"),
    Role.ORGANISER: _l("Organiser: their events, registrations, badges and exports"),
    Role.DOOR: _l("Door staff: check-in only"),
}
ROLE_SHORT_LABELS = {
    Role.ADMIN: _l("Administrator"),
    Role.ORGANISER: _l("Organiser"),
    Role.DOOR: _l("Door staff"),
}


class LoginForm(FlaskForm):
    email = StringField(
        _l("E-mail address"),
        validators=[DataRequired(REQUIRED), at_most(254), no_control_characters],
        filters=[_strip],
        render_kw={"autocomplete": "username", "maxlength": 254, "autofocus": True},
    )
    password = PasswordField(
        _l("Password"),
        validators=[DataRequired(REQUIRED), at_most(MAX_PASSWORD_LENGTH)],
        render_kw={"autocomplete": "current-password"},
    )


class RoleField(RadioField):
    def __init__(self, label: Text | None = None, **kwargs: Any) -> None:
        super().__init__(
            label, choices=[SelectChoice(r.value, ROLE_LABELS[r]) for r in Role], **kwargs
        )

    def pre_validate(self, form: BaseForm) -> None:
        if self.data not in {r.value for r in Role}:
            raise ValidationError(_l("Choose a role."))


def long_enough(_form: Form, field: Field) -> None:
    if len(field.data or "") < MIN_PASSWORD_LENGTH:
        raise ValidationError(
            _l("The password must have at least %(n)d characters.", n=MIN_PASSWORD_LENGTH)
        )


class AccountForm(FlaskForm):
    """Role and events of an existing account."""

    role = RoleField(_l("Role"))
    events = MultiCheckboxField(
        _l("Events"),
        coerce=int,
        description=_l("The events this account may act on (administrators: all)."),
    )


class NewAccountForm(AccountForm):
    email = email_field(_l("E-mail address"), autocomplete="off")
    password = PasswordField(
        _l("Password"),
        validators=[DataRequired(REQUIRED), long_enough, at_most(MAX_PASSWORD_LENGTH)],
        description=_l(
            "At least %(n)d characters. Give it to its owner in person.", n=MIN_PASSWORD_LENGTH
        ),
        render_kw={"autocomplete": "new-password", "minlength": MIN_PASSWORD_LENGTH},
    )
