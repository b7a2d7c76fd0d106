"""The walk-in form of the door screen."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, IntegerField
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]  # (WTForms 3.2; its stubs lag)
from wtforms.validators import InputRequired, NumberRange, Optional
from wtforms.widgets import HiddenInput

from tracker.i18n import lazy_gettext as _l
from tracker.registration.forms import (
    TYPE_SHORT_LABELS,
    TypeField,
    at_most,
    email_field,
    no_control_characters,
    text_field,
)


def door_field() -> HiddenField:
    """The door name a device sends with every check-in, walk-in and undo. (Not
    Optional(): it would stop the checks at a value that strips to nothing, such as a
    lone U+0085.)"""
    return HiddenField(validators=[at_most(100), no_control_characters])


class WalkInForm(FlaskForm):
    first_name = text_field(_l("First name"), 100, autocomplete="off")
    last_name = text_field(_l("Last name"), 100, autocomplete="off")
    organisation = text_field(
        _l("Organisation"), 200, autocomplete="off", list="door-organisations"
    )
    organisation_type = TypeField(
        _l("Type of organisation"),
        choices=[SelectChoice(t.value, label) for t, label in TYPE_SHORT_LABELS.items()],
        validators=[InputRequired(_l("Choose the type of your organisation."))],
    )
    email = email_field(_l("E-mail address (optional)"), required=False, autocomplete="off")
    override = BooleanField(_l("Register although the event is full"))
    # Filled in by the door screen: where and how this device checks in.
    session = IntegerField(
        widget=HiddenInput(),
        validators=[
            Optional(),
            NumberRange(min=1, message=_l("This session is not part of the event.")),
        ],
    )
    door = door_field()
    nonce = HiddenField(validators=[at_most(64), no_control_characters])


class UndoForm(FlaskForm):
    """The undo of a check-in made from the search (the ids are read by the view)."""

    door = door_field()
