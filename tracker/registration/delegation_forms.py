"""The delegation form: a contact, their organisation once, then one row per person."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from wtforms import BooleanField, FieldList, Form, FormField
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]  # (WTForms 3.2; its stubs lag)
from wtforms.validators import DataRequired, InputRequired

from tracker.i18n import lazy_gettext as _l
from tracker.models import OrganisationType
from tracker.registration.delegations import MAX_PEOPLE, Contact, Person
from tracker.registration.forms import (
    REQUIRED,
    TYPE_LABELS,
    HoneypotForm,
    MultiCheckboxField,
    TypeField,
    email_field,
    text_field,
)

# Empty rows shown at first, and added by "More rows" (a script adds one at a time).
FIRST_ROWS = 3
MORE_ROWS = 3


class PersonRow(Form):
    """One person; an empty row is left out, a row begun must be complete."""

    first_name = text_field(_l("First name"), 100, required=False, autocomplete="off")
    last_name = text_field(_l("Last name"), 100, required=False, autocomplete="off")
    email = email_field(_l("E-mail address"), required=False, autocomplete="off")
    job_title = text_field(_l("Job title (optional)"), 200, required=False, autocomplete="off")
    sessions = MultiCheckboxField(_l("Sessions"), coerce=int, choices=[])

    def is_empty(self) -> bool:
        return not any(
            (getattr(self, name).data or "").strip()
            for name in ("first_name", "last_name", "email", "job_title")
        )

    def validate(self, extra_validators: Mapping[str, Any] | None = None) -> bool:
        valid = super().validate(extra_validators)
        if self.is_empty():
            return valid
        for name in ("first_name", "last_name", "email"):
            field = getattr(self, name)
            if not (field.data or "").strip():
                field.errors = [*field.errors, REQUIRED]
                valid = False
        return valid

    def person(self) -> Person:
        return Person(
            first_name=self.first_name.data or "",
            last_name=self.last_name.data or "",
            email=self.email.data or "",
            job_title=self.job_title.data or None,
            session_ids=list(self.sessions.data or []),
        )


def _people(label: Any = None, rows: int = FIRST_ROWS) -> Any:
    return FieldList(FormField(PersonRow), label, min_entries=rows, max_entries=MAX_PEOPLE)


_ROW_INDEX = re.compile(r"^people-(\d+)-")


def rows_sent(formdata: Mapping[str, Any]) -> int:
    """How many rows the form sent (counted before WTForms keeps the first MAX_PEOPLE)."""
    return len({m.group(1) for key in formdata if (m := _ROW_INDEX.match(key))})


class AddPeopleForm(HoneypotForm):
    """People added from the contact's page."""

    people = _people(rows=1)
    consent = BooleanField(
        _l(
            "The people I register agreed that their data is processed to manage their "
            "registration and attendance."
        ),
        validators=[DataRequired(_l("Their consent is required to register them."))],
    )

    def set_session_choices(self, choices: list[SelectChoice]) -> None:
        for row in self.people:
            row.form.sessions.choices = choices

    def rows(self) -> list[tuple[int, Person]]:
        """The people to register with their row numbers in the form (from 0), empty
        rows left out."""
        return [
            (i, row.form.person()) for i, row in enumerate(self.people) if not row.form.is_empty()
        ]


class DelegationForm(AddPeopleForm):
    """The group form: the contact, the organisation once, and a row per person."""

    contact_first_name = text_field(_l("Your first name"), 100, autocomplete="given-name")
    contact_last_name = text_field(_l("Your last name"), 100, autocomplete="family-name")
    contact_email = email_field(_l("Your e-mail address"), autocomplete="email")
    contact_attends = BooleanField(_l("I attend too"))
    contact_job_title = text_field(
        _l("Your job title (optional)"), 200, required=False, autocomplete="organization-title"
    )
    contact_sessions = MultiCheckboxField(_l("Your sessions"), coerce=int, choices=[])
    organisation = text_field(
        _l("Organisation"), 200, autocomplete="organization", list="organisations"
    )
    organisation_type = TypeField(
        _l("Type of organisation"),
        choices=[SelectChoice(t.value, label) for t, label in TYPE_LABELS.items()],
        validators=[InputRequired(_l("Choose the type of your organisation."))],
    )
    people = _people()

    def set_session_choices(self, choices: list[SelectChoice]) -> None:
        self.contact_sessions.choices = choices
        super().set_session_choices(choices)

    def contact(self, locale: str) -> Contact:
        return Contact(
            name=f"{self.contact_first_name.data or ''} {self.contact_last_name.data or ''}",
            email=self.contact_email.data or "",
            organisation=self.organisation.data or "",
            organisation_type=OrganisationType(self.organisation_type.data),
            consent=bool(self.consent.data),
            locale=locale,
        )

    def rows(self) -> list[tuple[int, Person]]:
        """The people to register with their row numbers in the form (from 0; the
        contact's own row, when they attend, is -1), empty rows left out."""
        found: list[tuple[int, Person]] = []
        if self.contact_attends.data:
            found.append(
                (
                    -1,
                    Person(
                        first_name=self.contact_first_name.data or "",
                        last_name=self.contact_last_name.data or "",
                        email=self.contact_email.data or "",
                        job_title=self.contact_job_title.data or None,
                        session_ids=list(self.contact_sessions.data or []),
                    ),
                )
            )
        return found + super().rows()
