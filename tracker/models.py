"""The whole schema. Every change here comes with an Alembic migration."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    inspect,
    text,
    true,
)
from sqlalchemy.event import listens_for
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.db import Base, utcnow


class OrganisationType(enum.StrEnum):
    CLUSTER = "cluster"
    MINISTRY = "ministry"
    REGION = "region"
    AGENCY = "agency"
    OTHER = "other"


class Role(enum.StrEnum):
    ADMIN = "admin"  # everything, users included
    ORGANISER = "organiser"  # the events they manage
    DOOR = "door"  # check-in only


class Visibility(enum.StrEnum):
    DRAFT = "draft"  # only its organisers and admins see it
    UNLISTED = "unlisted"  # reachable by its link, not listed on the home page
    PUBLIC = "public"  # listed on the home page


class RegistrationSource(enum.StrEnum):
    ONLINE = "online"
    WALK_IN = "walk_in"
    IMPORT = "import"
    MANUAL = "manual"


class Admission(enum.StrEnum):
    OPEN = "open"  # anyone registers through the public form
    INVITATION = "invitation"  # only through an invitation's link (tracker.invitations)
    MIXED = "mixed"  # both: invitees may use the places reserved for them


class InvitationState(enum.StrEnum):
    CREATED = "created"  # recorded, not e-mailed yet
    SENT = "sent"  # its e-mail is queued (or gone)
    OPENED = "opened"  # its link was opened
    REGISTERED = "registered"  # the invitee registered through it: the link is used
    DECLINED = "declined"  # the invitee declined


class RegistrationStatus(enum.StrEnum):
    CONFIRMED = "confirmed"
    WAITLISTED = "waitlisted"
    CANCELLED = "cancelled"


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    # Stored as plain strings with a CHECK constraint: portable and readable in SQL.
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=20,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


class Organisation(Base):
    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # tracker.text.fold (transliterated, casefolded, apostrophes, hyphens and spaces as
    # one space): " VEGEPOLYS" and "Végépolys", "Cœur" and "coeur" are one.
    name_key: Mapped[str] = mapped_column(String(200), unique=True)
    type: Mapped[OrganisationType] = mapped_column(_enum(OrganisationType, "organisation_type"))
    region: Mapped[str | None] = mapped_column(String(100))
    # Suggested while typing: an organiser or door staff entered, imported, edited or
    # confirmed a registration with it. A name typed only on the public form is not.
    listed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Event(Base):
    __tablename__ = "events"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    organiser: Mapped[str | None] = mapped_column(String(300))
    venue: Mapped[str | None] = mapped_column(String(300))
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Paris")
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    registration_opens_at: Mapped[datetime]
    registration_closes_at: Mapped[datetime]
    edit_deadline: Mapped[datetime]
    capacity: Mapped[int | None]
    # {"cluster": 60, ...}: at most this many confirmed registrations of a type.
    type_quotas: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    # At most this many confirmed registrations of one organisation (None: no cap),
    # and per organisation type ({"cluster": 2}), which overrides it for that type.
    per_organisation: Mapped[int | None]
    per_organisation_types: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    # {"cluster": "#1f6feb", ...}: the badge band's colour per organisation type
    # (missing types use the defaults of tracker.badges).
    badge_colours: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    # Whether badges print the job title; the door shows it only then (what the door
    # sees is what anyone sees on the badge).
    badge_job_title: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    visibility: Mapped[Visibility] = mapped_column(
        _enum(Visibility, "event_visibility"), default=Visibility.PUBLIC, server_default="public"
    )
    # The reminder (QR code and calendar file) is sent to each confirmed person this many
    # days before the start (tracker.mailings.services.send_due_reminders); None: none.
    # No column default: the ORM would put it in place of a None meaning "no reminder"
    # (EventSpec carries the default of a new event).
    reminder_days: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Days after its end when its personal data is anonymised (tracker.privacy.retention);
    # None: the app's RETENTION_DAYS.
    retention_days: Mapped[int | None]
    # When the organisers were warned that it comes, and when it was done.
    retention_warned_at: Mapped[datetime | None]
    anonymised_at: Mapped[datetime | None]
    # Who may register through the public form (Admission), and how many places of the
    # capacity are held for people registering through an invitation (at most the
    # capacity; tracker.registration.capacity keeps them).
    admission: Mapped[Admission] = mapped_column(
        _enum(Admission, "event_admission"), default=Admission.OPEN, server_default="open"
    )
    reserved_for_invitees: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    sessions: Mapped[list[Session]] = relationship(
        back_populates="event",
        order_by="(Session.position, Session.id)",
        cascade="all, delete-orphan",
    )
    registrations: Mapped[list[Registration]] = relationship(
        back_populates="event", cascade="all, delete-orphan", passive_deletes=True
    )
    questions: Mapped[list[Question]] = relationship(
        back_populates="event",
        order_by="(Question.position, Question.id)",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )


class QuestionKind(enum.StrEnum):
    TEXT = "text"  # one line
    LONG_TEXT = "long_text"
    YES_NO = "yes_no"
    CHOICE = "choice"  # one of the choices
    CHOICES = "choices"  # any number of them


class Question(Base):
    """A question of an event's registration form, beyond the fixed fields: its field
    is named `q_<id>` in every form (public, organiser's, walk-in, private edit)."""

    __tablename__ = "questions"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(300))
    kind: Mapped[QuestionKind] = mapped_column(_enum(QuestionKind, "question_kind"))
    # The options of a choice, in their order (the answers hold the option's text).
    choices: Mapped[list[str]] = mapped_column(JSON, default=list)
    required: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Asked only of these organisation types / of people registering for one of these
    # sessions; empty: of everyone.
    types: Mapped[list[str]] = mapped_column(JSON, default=list)
    session_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    # Printed on the badge; shown at the door (neither unless the organiser says so).
    on_badge: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    at_door: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    position: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    event: Mapped[Event] = relationship(back_populates="questions")

    @property
    def field_name(self) -> str:
        return f"q_{self.id}"


class Answer(Base):
    """One registration's answer to one question: one row per value (a question of
    several choices has a row per option chosen; yes/no is "yes" or "no"). No answer,
    no row."""

    __tablename__ = "answers"
    __table_args__ = (Index("ix_answers_registration", "registration_id", "question_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("registrations.id", ondelete="CASCADE"))
    question_id: Mapped[int] = mapped_column(
        ForeignKey("questions.id", ondelete="CASCADE"), index=True
    )
    value: Mapped[str] = mapped_column(Text)

    question: Mapped[Question] = relationship()


class Session(Base):
    """A part of an event: the plenary, a round table, a focus session."""

    __tablename__ = "sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str | None] = mapped_column(String(40))
    room: Mapped[str | None] = mapped_column(String(200))
    starts_at: Mapped[datetime | None]
    ends_at: Mapped[datetime | None]
    capacity: Mapped[int | None]
    position: Mapped[int] = mapped_column(default=0)

    event: Mapped[Event] = relationship(back_populates="sessions")


registration_sessions = Table(
    "registration_sessions",
    Base.metadata,
    Column(
        "registration_id",
        Integer,
        ForeignKey("registrations.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column(
        "session_id",
        Integer,
        ForeignKey("sessions.id", ondelete="CASCADE"),
        primary_key=True,
        index=True,
    ),
)


class Delegation(Base):
    """Several people of one organisation registered together by one contact (who may
    be one of them): each person has their own registration, private link and check-in
    code; the contact follows and manages them all through the delegation's private
    link (/d/<token>)."""

    __tablename__ = "delegations"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    contact_name: Mapped[str] = mapped_column(String(200))
    contact_email: Mapped[str] = mapped_column(String(254))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    organisation_type: Mapped[OrganisationType] = mapped_column(
        _enum(OrganisationType, "delegation_organisation_type")
    )
    # The contact's private link: lets its holder see, cancel and add people. Never printed.
    token: Mapped[str] = mapped_column(String(64), unique=True)
    locale: Mapped[str] = mapped_column(String(8), default="fr")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    event: Mapped[Event] = relationship()
    organisation: Mapped[Organisation] = relationship(lazy="joined")
    registrations: Mapped[list[Registration]] = relationship(
        secondary="delegation_members", order_by="Registration.id"
    )


# Who a delegation registered: a registration belongs to at most one (its primary key).
# A separate table rather than a column of registrations: both ends go with a deletion.
delegation_members = Table(
    "delegation_members",
    Base.metadata,
    Column(
        "registration_id",
        ForeignKey("registrations.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column(
        "delegation_id",
        ForeignKey("delegations.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
)


class Registration(Base):
    """One person at one event."""

    __tablename__ = "registrations"
    __table_args__ = (
        # One registration of an address per event that is not cancelled: a person who
        # cancelled and registers again gets a new row (a new link and check-in code),
        # the cancelled one stays as it was.
        Index(
            "uq_registrations_event_email_active",
            "event_id",
            "email_key",
            unique=True,
            sqlite_where=text("status <> 'cancelled'"),
            postgresql_where=text("status <> 'cancelled'"),
        ),
        # Every registration of an address, cancelled ones included (imports skip them).
        Index("ix_registrations_event_email", "event_id", "email_key"),
        Index("ix_registrations_event_status", "event_id", "status", "created_at"),
        # The statistics count registrations per type, status and organisation from
        # indexes alone: one scan for an event, one lookup per check-in.
        Index(
            "ix_registrations_event_counts",
            "event_id",
            "organisation_type",
            "status",
            "organisation_id",
        ),
        Index("ix_registrations_id_counts", "id", "organisation_type", "status", "organisation_id"),
        # The door's snapshot pulls who changed since its cursor.
        Index("ix_registrations_event_updated", "event_id", "updated_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(254))
    email_key: Mapped[str] = mapped_column(String(254))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    # active_history: the value before a change is known when it is flushed, even
    # if it was not loaded, so the place counters (tracker.registration.capacity)
    # move a confirmed person from their old type to the new one.
    organisation_type: Mapped[OrganisationType] = mapped_column(
        _enum(OrganisationType, "registration_organisation_type"), active_history=True
    )
    job_title: Mapped[str | None] = mapped_column(String(200))
    source: Mapped[RegistrationSource] = mapped_column(
        _enum(RegistrationSource, "registration_source"), default=RegistrationSource.ONLINE
    )
    # Names, address and organisation, folded (tracker.text.fold), for the door's search.
    search_key: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[RegistrationStatus] = mapped_column(
        _enum(RegistrationStatus, "registration_status"), active_history=True
    )
    # Printed on the badge and in the QR code: seen by anyone who sees the badge.
    checkin_code: Mapped[str] = mapped_column(String(32), unique=True)
    # The private link: lets its holder edit or cancel. Never printed.
    manage_token: Mapped[str] = mapped_column(String(64), unique=True)
    # Read only where the image is shown (its page, e-mails, badges), not with every
    # registration a door, a list or an export loads.
    qr_png: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    locale: Mapped[str] = mapped_column(String(8), default="fr")  # for later e-mails
    consent_at: Mapped[datetime]
    # The version of the privacy notice consented to (PRIVACY_VERSION at consent_at).
    consent_version: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    cancelled_at: Mapped[datetime | None]
    badge_printed_at: Mapped[datetime | None]  # the last time
    # When the private link was last e-mailed again to a second registration of the
    # address (at most one such e-mail every LINK_AGAIN_INTERVAL).
    link_sent_at: Mapped[datetime | None]
    badge_print_count: Mapped[int] = mapped_column(default=0)
    # The SEQUENCE of its calendar file: one more at each change of status, so that a
    # calendar replaces the entry it holds (confirmed, tentative, cancelled) with the new
    # one (count_status_changes).
    calendar_sequence: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # When the event's reminder was queued for this person: set once, by a conditional
    # UPDATE, so that no scheduler run or second worker sends it again.
    reminder_sent_at: Mapped[datetime | None]
    # Made through an invitation's link: counted in the "invited" scope, which may use
    # the places reserved for invitees (tracker.registration.capacity). Set once.
    invited: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    event: Mapped[Event] = relationship(back_populates="registrations")
    # Registered with others of the organisation by a contact (a delegation).
    delegation: Mapped[Delegation | None] = relationship(
        secondary="delegation_members", viewonly=True
    )
    organisation: Mapped[Organisation] = relationship(lazy="joined")
    sessions: Mapped[list[Session]] = relationship(
        secondary=registration_sessions, order_by="(Session.position, Session.id)"
    )

    checkins: Mapped[list[CheckIn]] = relationship(
        back_populates="registration", cascade="all, delete-orphan", passive_deletes=True
    )
    answers: Mapped[list[Answer]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, order_by="Answer.id"
    )

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


class Invitation(Base):
    """One invitee of an event: who, and where their invitation stands. Its token is
    the personal link (/i/<token>), usable once to register.

    The token is kept as it is, as a registration's private link is, not as a hash as
    API tokens are: the organiser sends the invitation again (and `tracker invite`
    prints it) long after it was made, and the outbox keeps the e-mails that carry it
    anyway. It gives no more than one registration at one event, and only until used."""

    __tablename__ = "invitations"
    __table_args__ = (
        UniqueConstraint("event_id", "email_key"),
        Index("ix_invitations_event_state", "event_id", "state", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(254))
    email_key: Mapped[str] = mapped_column(String(254))
    organisation: Mapped[str] = mapped_column(String(200))
    organisation_type: Mapped[OrganisationType] = mapped_column(
        _enum(OrganisationType, "invitation_organisation_type")
    )
    job_title: Mapped[str | None] = mapped_column(String(200))
    locale: Mapped[str] = mapped_column(String(8), default="fr")  # of its e-mails
    token: Mapped[str] = mapped_column(String(64), unique=True)
    state: Mapped[InvitationState] = mapped_column(
        _enum(InvitationState, "invitation_state"), default=InvitationState.CREATED
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]  # the last time its e-mail was queued
    opened_at: Mapped[datetime | None]  # the first time
    answered_at: Mapped[datetime | None]  # registered or declined
    reminded_at: Mapped[datetime | None]  # the last reminder
    registration_id: Mapped[int | None] = mapped_column(
        ForeignKey("registrations.id", ondelete="SET NULL")
    )

    event: Mapped[Event] = relationship()
    registration: Mapped[Registration | None] = relationship()

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


class BadgeRender(Base):
    """Badges rendered ahead of printing (tracker.badges.ahead): a PDF of one badge a
    page, each page the size of its layout's badge, kept while a BadgePage points to it."""

    __tablename__ = "badge_renders"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    pdf: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class BadgePage(Base):
    """A person's badge in one layout and language, kept on a page of a BadgeRender.
    `digest` is made of everything printed on it and of the layout's stylesheet: a
    badge whose digest is no longer the one its data gives is stale, never printed."""

    __tablename__ = "badge_pages"
    __table_args__ = (Index("ix_badge_pages_registration", "registration_id", "layout", "locale"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("registrations.id", ondelete="CASCADE"))
    render_id: Mapped[int] = mapped_column(
        ForeignKey("badge_renders.id", ondelete="CASCADE"), index=True
    )
    page: Mapped[int]  # 0 for the render's first page
    layout: Mapped[str] = mapped_column(String(16))
    locale: Mapped[str] = mapped_column(String(8))
    digest: Mapped[str] = mapped_column(String(64))


class Download(Base):
    """A file made by the worker for an organiser (a large badge batch or export): its
    progress while it is made, then the file in the instance folder until it expires."""

    __tablename__ = "downloads"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)  # in its URLs
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    what: Mapped[str] = mapped_column(String(40))  # "badges" or an export's identifier
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(16), default="queued")
    done: Mapped[int] = mapped_column(default=0)
    total: Mapped[int] = mapped_column(default=0)
    unit: Mapped[str] = mapped_column(String(16), default="pages")  # pages or rows
    filename: Mapped[str] = mapped_column(String(200), default="")
    mimetype: Mapped[str] = mapped_column(String(100), default="")
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    finished_at: Mapped[datetime | None]


@listens_for(Registration, "before_update")
def count_status_changes(_mapper: Any, _connection: Any, target: Registration) -> None:
    """Each change of status (confirmed, waitlisted, cancelled, restored) makes a new
    version of the registration's calendar entry: its SEQUENCE grows by one, in the
    UPDATE itself (every change of status is made under the event's lock)."""
    if inspect(target).attrs.status.history.has_changes():
        target.calendar_sequence = Registration.calendar_sequence + 1


class PlaceCount(Base):
    """A maintained count of confirmed registrations of an event: the whole event
    (scope "event"), an organisation type ("type:cluster") or a session ("session:12").
    Kept exact in the transaction of every change of status, type or sessions by
    tracker.registration.capacity, which decides from these rows whether a place is
    free; `tracker capacity recompute` counts them again from the registrations."""

    __tablename__ = "place_counts"

    event_id: Mapped[int] = mapped_column(
        ForeignKey("events.id", ondelete="CASCADE"), primary_key=True
    )
    scope: Mapped[str] = mapped_column(String(40), primary_key=True)
    confirmed: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class RegistrationCount(Base):
    """A maintained count of an event's registrations by organisation type and status
    ("cluster:confirmed"), of its session choices ("s12:cluster:waitlisted"), of its
    people checked in ("e:cluster:confirmed", "p12:cluster:confirmed:1") and of its
    arrivals per slot and door ("t2968561:Entrée A"): what the dashboard's live refresh
    reads instead of counting every registration and check-in. Kept in the transaction
    of every change by tracker.reports.counts; `tracker capacity recompute` counts them
    again."""

    __tablename__ = "registration_counts"

    event_id: Mapped[int] = mapped_column(
        ForeignKey("events.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(160), primary_key=True)  # a door: 100
    count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


user_events = Table(
    "user_events",
    Base.metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "event_id",
        Integer,
        ForeignKey("events.id", ondelete="CASCADE"),
        primary_key=True,
        index=True,
    ),
)


class User(UserMixin, Base):
    """An organiser, door or admin account (attendees have no account)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    email_key: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(_enum(Role, "user_role"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]
    # Copied into the session at login and compared at every request: raised by a
    # logout, a password change, disabling or enabling, it ends every open session.
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    # The events an organiser manages or a door account checks in at (admins: all).
    events: Mapped[list[Event]] = relationship(secondary=user_events)

    def may_access(self, event: Event) -> bool:
        # By id, not identity: the event and the account may come from different sessions.
        return self.active and (
            self.role == Role.ADMIN or any(e.id == event.id for e in self.events)
        )

    @property
    def is_active(self) -> bool:  # Flask-Login: a disabled account cannot log in
        return self.active


class ApiToken(Base):
    """A bearer token for the JSON API; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(lazy="joined")


ENTRANCE = 0  # CheckIn.scope of the entrance; a session's check-in has its id as scope
# (ids start at 1: "scope > ENTRANCE" is every session check-in, as an index range)


class CheckIn(Base):
    """A person present: at the entrance (scope 0) or in a session (scope = its id).
    The unique constraint is what makes a second scan "already checked in"."""

    __tablename__ = "checkins"
    __table_args__ = (
        UniqueConstraint("registration_id", "scope"),
        # Counters, statistics and the arrival timeline read the check-ins of an event
        # and scope from this index alone.
        Index(
            "ix_checkins_event_scope",
            "event_id",
            "scope",
            "registration_id",
            "checked_in_at",
            "door",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    registration_id: Mapped[int] = mapped_column(ForeignKey("registrations.id", ondelete="CASCADE"))
    session_id: Mapped[int | None] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    scope: Mapped[int] = mapped_column(default=0)
    # When the person was let in: the device's time of the scan for a check-in sent
    # after a network cut (`scanned_at`), else the server's.
    checked_in_at: Mapped[datetime] = mapped_column(default=utcnow)
    # When the server recorded it (NULL for check-ins recorded before this was kept).
    recorded_at: Mapped[datetime | None] = mapped_column(default=utcnow)
    door: Mapped[str] = mapped_column(String(100))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    registration: Mapped[Registration] = relationship(back_populates="checkins")
    user: Mapped[User | None] = relationship()


class ScanLog(Base):
    """Every check-in attempt and undo, refused ones too. A nonce makes a retried
    request give back the first answer (stored in `response`) without counting twice."""

    __tablename__ = "scan_log"
    __table_args__ = (
        UniqueConstraint("event_id", "nonce"),
        Index("ix_scan_log_event_at", "event_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    door: Mapped[str] = mapped_column(String(100))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    registration_id: Mapped[int | None] = mapped_column(
        ForeignKey("registrations.id", ondelete="SET NULL")
    )
    session_id: Mapped[int | None] = mapped_column(ForeignKey("sessions.id", ondelete="SET NULL"))
    # The session's title at the scan: the log still says which session it was once the
    # session is deleted (session_id is then NULL, as for the entrance).
    session_title: Mapped[str | None] = mapped_column(String(300))
    code: Mapped[str | None] = mapped_column(String(64))
    result: Mapped[str] = mapped_column(String(30))
    nonce: Mapped[str | None] = mapped_column(String(64))
    status_code: Mapped[int | None]
    response: Mapped[dict | None] = mapped_column(JSON)
    # The device's time of a scan sent after a network cut (`at` is the server's).
    scanned_at: Mapped[datetime | None]


class CheckInConflict(Base):
    """A person checked in twice at the same place by doors that could not know of each
    other (offline): the first by time stands (the CheckIn row), the other is kept here
    as a duplicate, for the organiser's report."""

    __tablename__ = "checkin_conflicts"
    __table_args__ = (Index("ix_checkin_conflicts_event", "event_id", "recorded_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    registration_id: Mapped[int] = mapped_column(ForeignKey("registrations.id", ondelete="CASCADE"))
    session_id: Mapped[int | None] = mapped_column(ForeignKey("sessions.id", ondelete="SET NULL"))
    session_title: Mapped[str | None] = mapped_column(String(300))
    scope: Mapped[int] = mapped_column(default=0)
    kept_door: Mapped[str] = mapped_column(String(100))
    kept_at: Mapped[datetime]
    duplicate_door: Mapped[str] = mapped_column(String(100))
    duplicate_at: Mapped[datetime]
    duplicate_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)

    registration: Mapped[Registration] = relationship()


class AuditEntry(Base):
    """Who changed what, when: every change an organiser or door account makes."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_registration", "registration_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    event_id: Mapped[int | None] = mapped_column(
        ForeignKey("events.id", ondelete="CASCADE"), index=True
    )
    registration_id: Mapped[int | None] = mapped_column(
        ForeignKey("registrations.id", ondelete="CASCADE")
    )
    action: Mapped[str] = mapped_column(String(50))
    # {"field": [old, new], ...} or any detail worth keeping
    changes: Mapped[dict] = mapped_column(JSON, default=dict)

    user: Mapped[User | None] = relationship()


class MailState(enum.StrEnum):
    QUEUED = "queued"  # waiting for the worker, or for its next attempt
    SENT = "sent"  # the mail server accepted it
    FAILED = "failed"  # refused for good (5xx), or still not sent after the retries


class OutgoingMail(Base):
    """An e-mail to send (the outbox): written in the transaction of the change that
    causes it, sent by the worker (tracker.mail). A row is claimed by one worker at a
    time (claimed_until) and stays queued, with its last error, between attempts."""

    __tablename__ = "outgoing_mail"
    __table_args__ = (
        # The sweep's query: what is queued and due.
        Index("ix_outgoing_mail_state_next", "state", "next_attempt_at"),
        # A registration's last e-mail (its page, the list's filter).
        Index("ix_outgoing_mail_registration", "registration_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int | None] = mapped_column(
        ForeignKey("registrations.id", ondelete="CASCADE")
    )
    recipient: Mapped[str] = mapped_column(String(254))
    # "confirmation", "link", "promoted", "cancelled"... (tracker.registration.notify)
    kind: Mapped[str] = mapped_column(String(40))
    # Both written by the worker when it first sends the e-mail of a registration (in
    # the person's language), or at once for a message written by its sender; then
    # kept, so that a retry sends the same message (MIME, CRLF line ends).
    subject: Mapped[str | None] = mapped_column(Text)
    message: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    state: Mapped[MailState] = mapped_column(
        _enum(MailState, "outgoing_mail_state"), default=MailState.QUEUED
    )
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Set by the worker that claims the row; another worker leaves it until then (a
    # worker that died in the middle of a send is taken over after it).
    claimed_until: Mapped[datetime | None]
    last_attempt_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]


class MailingKind(enum.StrEnum):
    MESSAGE = "message"  # an organiser's message to a filtered set of registrations
    CERTIFICATE = "certificate"  # the attendance certificate, to everyone present


class Mailing(Base):
    """One e-mail an organiser sent to many registrations: what was written, to whom
    (the filters, the registrations and their count), by whom. Each recipient's history
    holds an audit entry that names it. The nonce of the form that sent it makes a
    second click (or a form sent twice) find it instead of sending again."""

    __tablename__ = "mailings"
    __table_args__ = (Index("ix_mailings_event_at", "event_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    kind: Mapped[MailingKind] = mapped_column(_enum(MailingKind, "mailing_kind"))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    # The registrations list's filters it was sent with (tracker.organiser.services.Filters).
    filters: Mapped[dict] = mapped_column(JSON, default=dict)
    recipients: Mapped[int] = mapped_column(default=0)
    # Who it goes to, fixed when it was sent (the preview's count): its e-mails are
    # queued by a job (tracker.mailings.services.deliver_mailing), which sets sent_at.
    recipient_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    sent_at: Mapped[datetime | None]
    nonce: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
