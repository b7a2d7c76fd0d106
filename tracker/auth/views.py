"""Login, logout and the administrators' accounts screen (/users)."""

from __future__ import annotations

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from sqlalchemy import select
from werkzeug.wrappers import Response
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]  # (WTForms 3.2; its stubs lag)

from tracker.auth import ratelimit, services, start_session
from tracker.auth.access import ADMIN, may_open, require
from tracker.auth.forms import ROLE_SHORT_LABELS, AccountForm, LoginForm, NewAccountForm
from tracker.db import get_db
from tracker.door.services import door_events
from tracker.errors import DomainError
from tracker.i18n import is_local_path
from tracker.models import Event, Role, User

bp = Blueprint("auth", __name__)
users_bp = Blueprint("users", __name__)

INVALID = 422  # a form sent back with errors: nothing saved
REFUSED = 401  # wrong credentials: the same answer for an unknown address
HOME_PATH = "/manage"  # the organisers' home


def home_url() -> str:
    """The organisers' home, through its endpoint once one serves it."""
    endpoint = current_app.extensions.get("tracker.home_endpoint")
    if endpoint is None:
        endpoint = next(
            (
                r.endpoint
                for r in current_app.url_map.iter_rules()
                if r.rule == HOME_PATH and "GET" in (r.methods or ())
            ),
            "",
        )
        current_app.extensions["tracker.home_endpoint"] = endpoint
    return url_for(endpoint) if endpoint else request.script_root + HOME_PATH


def landing_url(user: User) -> str:
    """Where an account lands after login: its work. A door account on the door screen
    of its one event, or on the list of its events' door screens (which says so when
    it has none); organisers and admins on their home."""
    if user.role == Role.DOOR:
        events = door_events(get_db(), user)
        if len(events) == 1:
            return url_for("door.door", slug=events[0].slug)
        return url_for("door.index")
    return home_url()


def safe_next(value: str | None) -> str | None:
    """A `next` sent with a form or a link, if it is a path on this site."""
    return value if value and len(value) <= 2000 and is_local_path(value) else None


# --- login, logout ------------------------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | tuple[str, int] | str:
    next_url = safe_next(request.values.get("next"))
    form = LoginForm()
    if request.method == "GET":
        if current_user.is_authenticated:
            return redirect(next_url or landing_url(current_user._get_current_object()))
        return render_template("auth/login.html", form=form, next=next_url)

    if not form.validate_on_submit():
        return render_template("auth/login.html", form=form, next=next_url), INVALID
    email, password = form.email.data or "", form.password.data or ""  # both required
    attempt = ratelimit.login_attempt(email)
    if attempt.retry_after is not None:  # even with the right password
        return ratelimit.locked_page(attempt.retry_after)
    user = services.authenticate(get_db(), email, password)
    if user is None:
        attempt.failed()
        return render_template("auth/login.html", form=form, next=next_url, refused=True), REFUSED
    attempt.succeeded()

    session.clear()  # nothing from before the login survives it (CSRF token included)
    login_user(user)
    start_session(user)
    return redirect(next_url or landing_url(user), code=303)


@bp.route("/logout", methods=["POST"])
def logout() -> Response:
    """Ends every session of the account, on every device (a copy of this session's
    cookie included)."""
    if current_user.is_authenticated and "_user_id" in session:
        services.end_sessions(get_db(), current_user._get_current_object())
    logout_user()
    session.clear()
    flash(_("You are logged out."), "success")
    return redirect(url_for("auth.login"), code=303)


# --- accounts (administrators only) ---------------------------------------------------


def _event_choices() -> list[SelectChoice]:
    events = get_db().scalars(select(Event).order_by(Event.starts_at.desc(), Event.id))
    return [SelectChoice(e.id, f"{e.title} ({e.slug})") for e in events]


def _chosen_events(ids: list[int] | None) -> list[Event]:
    if not ids:
        return []
    events = get_db().scalars(select(Event).where(Event.id.in_(ids))).all()
    return sorted(events, key=lambda e: e.slug)


def _show_error(form: AccountForm, error: DomainError) -> None:
    field = getattr(form, error.field, None) if error.field else None
    if field is not None:
        field.errors = [*field.errors, error.message]
    else:
        flash(str(error.message), "error")


def _account(user_id: int) -> User:
    user = get_db().get(User, user_id) if 0 < user_id < 2**31 else None
    if user is None:
        abort(404)
    return user


def _actor() -> User:
    return current_user._get_current_object()


def _list(form: NewAccountForm, status: int = 200) -> tuple[str, int]:
    return render_template(
        "users/index.html",
        users=services.list_users(get_db()),
        form=form,
        role_labels=ROLE_SHORT_LABELS,
    ), status


@users_bp.route("/users", methods=["GET", "POST"])
@require(ADMIN)
def index() -> Response | tuple[str, int]:
    form = NewAccountForm()
    form.events.choices = _event_choices()
    if request.method == "GET":
        if form.role.data is None:
            form.role.data = Role.ORGANISER.value
        return _list(form)
    if form.validate_on_submit():
        try:
            user = services.add_user(
                get_db(),
                form.email.data or "",  # required, like the password
                form.password.data or "",
                Role(form.role.data),
                _chosen_events(form.events.data),
                actor=_actor(),
            )
        except DomainError as e:
            _show_error(form, e)
        else:
            flash(_("Account %(email)s created.", email=user.email), "success")
            return redirect(url_for(".index"), code=303)
    return _list(form, INVALID)


@users_bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@require(ADMIN)
def edit(user_id: int) -> Response | tuple[str, int]:
    user = _account(user_id)
    form = AccountForm(data={"role": user.role.value, "events": [e.id for e in user.events]})
    form.events.choices = _event_choices()
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                changes = services.update_user(
                    get_db(),
                    user,
                    role=Role(form.role.data),
                    events=_chosen_events(form.events.data),
                    actor=_actor(),
                )
            except DomainError as e:
                _show_error(form, e)
            else:
                if changes:
                    flash(_("Account %(email)s updated.", email=user.email), "success")
                else:
                    flash(_("Nothing changed."), "info")
                return redirect(url_for(".index"), code=303)
        status = INVALID
    return render_template(
        "users/edit.html", user=user, form=form, role_labels=ROLE_SHORT_LABELS
    ), status


def _set_active(user_id: int, active: bool) -> Response:
    user = _account(user_id)
    try:
        changed = services.set_active(get_db(), user, active, actor=_actor())
    except DomainError as e:
        flash(str(e.message), "error")
    else:
        if changed and active:
            flash(_("Account %(email)s enabled.", email=user.email), "success")
        elif changed:
            flash(
                _("Account %(email)s disabled: it can no longer log in.", email=user.email),
                "success",
            )
    return redirect(url_for(".index"), code=303)


@users_bp.route("/users/<int:user_id>/disable", methods=["POST"])
@require(ADMIN)
def disable(user_id: int) -> Response:
    return _set_active(user_id, False)


@users_bp.route("/users/<int:user_id>/enable", methods=["POST"])
@require(ADMIN)
def enable(user_id: int) -> Response:
    return _set_active(user_id, True)


def init_app(app: Flask) -> None:
    """The blueprints and the rate limits' storage."""
    app.register_blueprint(bp)
    app.register_blueprint(users_bp)
    ratelimit.init_app(app)
    app.context_processor(lambda: {"home_url": home_url, "can": may_open})
