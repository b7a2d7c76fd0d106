"""The walk-in form of the door screen."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, IntegerField, StringField
from wtforms.fields import EmailField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, InputRequired, NumberRange, Optional
from wtforms.widgets import HiddenInput

from tracker.registration.forms import (
    REQUIRED,
    TYPE_SHORT_LABELS,
    TypeField,
    at_most,
    no_control_characters,
    not_blank,
)


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


class WalkInForm(FlaskForm):
    first_name = StringField(
        _l("First name"),
        validators=[DataRequired(REQUIRED), not_blank, at_most(100), no_control_characters],
        filters=[_strip],
        render_kw={"autocomplete": "off", "maxlength": 100},
    )
    last_name = StringField(
        _l("Last name"),
        validators=[DataRequired(REQUIRED), not_blank, at_most(100), no_control_characters],
        filters=[_strip],
        render_kw={"autocomplete": "off", "maxlength": 100},
    )
    organisation = StringField(
        _l("Organisation"),
        validators=[DataRequired(REQUIRED), not_blank, at_most(200), no_control_characters],
        filters=[_strip],
        render_kw={"autocomplete": "off", "maxlength": 200, "list": "door-organisations"},
    )
    organisation_type = TypeField(
        _l("Type of organisation"),
        choices=[SelectChoice(t.value, label) for t, label in TYPE_SHORT_LABELS.items()],
        validators=[InputRequired(_l("Choose the type of your organisation."))],
    )
    email = EmailField(
        _l("E-mail address (optional)"),
        validators=[
            Optional(),
            at_most(254),
            no_control_characters,
            Email(_l("Enter a valid e-mail address."), check_deliverability=False),
        ],
        filters=[_strip],
        render_kw={"autocomplete": "off", "maxlength": 254},
    )
    override = BooleanField(_l("Register although the event is full"))
    # Filled in by the door screen: where and how this device checks in.
    session = IntegerField(
        widget=HiddenInput(),
        validators=[
            Optional(),
            NumberRange(min=1, message=_l("This session is not part of the event.")),
        ],
    )
    door = HiddenField(validators=[Optional(), at_most(100), no_control_characters])
    nonce = HiddenField(validators=[Optional(), at_most(64), no_control_characters])
