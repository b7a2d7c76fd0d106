"""Accounts: the administrators' screen (/users) and `tracker user` / `tracker token`."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from tests.conftest import make_event
from tracker.auth import services
from tracker.auth.ratelimit import limiter_for
from tracker.models import ApiToken, AuditEntry, Role, User

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def fresh_limiter(app):
    limiter_for(app).reset()
    yield
    limiter_for(app).reset()


@pytest.fixture
def english_shell(monkeypatch):
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.delenv("LC_MESSAGES", raising=False)
    monkeypatch.setenv("LANG", "en_GB.UTF-8")


@pytest.fixture
def event(db):
    return make_event(db)


@pytest.fixture
def accounts(app, db, event):
    with app.app_context():
        return {
            "admin": services.create_user(db, "admin@example.org", PASSWORD, Role.ADMIN),
            "organiser": services.create_user(
                db, "organiser@example.org", PASSWORD, Role.ORGANISER, [event]
            ),
            "door": services.create_user(db, "door@example.org", PASSWORD, Role.DOOR, [event]),
        }


def login(client, user):
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 303
    return client


def browser(app):
    """A client that keeps no context between requests (unlike the `client` fixture,
    whose kept context would be shared with a second client's requests)."""
    other = app.test_client()
    other.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return other


def user(db, email):
    return db.scalar(select(User).where(User.email_key == email.casefold()))


def audit(db, action):
    return db.scalars(
        select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
    ).all()


# --- the screen ---------------------------------------------------------------------


def test_admin_sees_every_account(client, accounts, event):
    page = login(client, accounts["admin"]).get("/users")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for account in accounts.values():
        assert f'data-email="{account.email}"' in html
    assert event.slug in html  # the events an account may act on


@pytest.mark.parametrize("role", ["organiser", "door"])
@pytest.mark.parametrize(
    "method,path",
    [
        ("get", "/users"),
        ("post", "/users"),
        ("get", "/users/{id}"),
        ("post", "/users/{id}"),
        ("post", "/users/{id}/disable"),
        ("post", "/users/{id}/enable"),
    ],
)
def test_only_admins_manage_accounts(client, db, accounts, role, method, path):
    target = accounts["admin"]
    login(client, accounts[role])
    response = getattr(client, method)(
        path.format(id=target.id), data={"role": "door", "email": "x@example.org"}
    )
    assert response.status_code == 403
    db.refresh(target)
    assert target.role == Role.ADMIN and target.active
    assert user(db, "x@example.org") is None


def test_anonymous_is_sent_to_login(client, accounts):
    response = client.get("/users")
    assert response.status_code == 302 and response.location.startswith("/login")


def test_admin_adds_an_account_who_can_then_log_in(client, db, accounts, event):
    admin = accounts["admin"]
    response = login(client, admin).post(
        "/users",
        data={
            "email": "New.Door@example.org",
            "password": "a long enough password",
            "role": "door",
            "events": [str(event.id)],
        },
    )
    assert response.status_code == 303
    assert "Account New.Door@example.org created." in client.get("/users").get_data(as_text=True)
    created = user(db, "new.door@example.org")
    assert created.role == Role.DOOR and created.events == [event] and created.active
    (entry,) = audit(db, "user.created")
    assert entry.user_id == admin.id
    assert entry.changes == {
        "account": "New.Door@example.org",
        "account_id": created.id,
        "role": "door",
        "events": [event.slug],
    }
    client.post("/logout")
    response = client.post(
        "/login", data={"email": "new.door@example.org", "password": "a long enough password"}
    )
    assert response.status_code == 303


@pytest.mark.parametrize(
    "data,message",
    [
        ({"email": "organiser@example.org"}, "An account with this address already exists."),
        ({"email": "ORGANISER@example.org "}, "An account with this address already exists."),
        ({"email": "not an address"}, "Enter a valid e-mail address."),
        ({"email": ""}, "This field is required."),
        ({"password": "short"}, "The password must have at least 12 characters."),
        ({"password": "p" * 1025}, "At most 1024 characters, please."),
        ({"role": "superuser"}, "Choose a role."),
        ({"role": ""}, "Choose a role."),
        ({"events": ["999999"]}, "is not a valid choice"),
        ({"events": ["abc"]}, "Invalid choice"),
        ({"email": "a\x00b@example.org"}, "Control characters"),
    ],
)
def test_invalid_new_account_is_refused_and_nothing_saved(client, db, accounts, data, message):
    form = {"email": "fresh@example.org", "password": PASSWORD, "role": "organiser", **data}
    count = len(services.list_users(db))
    response = login(client, accounts["admin"]).post("/users", data=form)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert len(services.list_users(db)) == count
    assert audit(db, "user.created") == []


def test_admin_changes_role_and_events(client, db, accounts, event):
    other = make_event(db)
    door = accounts["door"]
    page = login(client, accounts["admin"]).get(f"/users/{door.id}")
    assert page.status_code == 200
    assert re.search(
        r'value="door"[^>]*checked|checked[^>]*value="door"', page.get_data(as_text=True)
    )

    response = client.post(
        f"/users/{door.id}", data={"role": "organiser", "events": [str(other.id)]}
    )
    assert response.status_code == 303
    db.refresh(door)
    assert door.role == Role.ORGANISER and door.events == [other]
    (entry,) = audit(db, "user.updated")
    assert entry.user_id == accounts["admin"].id
    assert entry.changes["role"] == ["door", "organiser"]
    assert entry.changes["events"] == [[event.slug], [other.slug]]

    # Sending the same again changes nothing and records nothing.
    client.post(f"/users/{door.id}", data={"role": "organiser", "events": [str(other.id)]})
    assert len(audit(db, "user.updated")) == 1

    # No event ticked: the account loses them all.
    client.post(f"/users/{door.id}", data={"role": "organiser"})
    db.refresh(door)
    assert door.events == []


def test_changed_role_applies_to_an_open_session(app, db, accounts):
    organiser = accounts["organiser"]
    other = login(browser(app), organiser)
    assert other.get("/users").status_code == 403
    login(browser(app), accounts["admin"]).post(f"/users/{organiser.id}", data={"role": "admin"})
    assert other.get("/users").status_code == 200


def test_disable_and_enable(app, db, accounts, event):
    door = accounts["door"]
    door_client = login(browser(app), door)
    assert door_client.get("/users").status_code == 403
    client = login(browser(app), accounts["admin"])
    assert client.post(f"/users/{door.id}/disable").status_code == 303
    db.refresh(door)
    assert not door.active
    assert 'data-active="false"' in client.get("/users").get_data(as_text=True)
    # Its open session ends, and it cannot log in again.
    assert door_client.get("/users").status_code == 302  # anonymous now (403 before)
    assert "door@example.org" not in door_client.get(f"/events/{event.slug}").get_data(as_text=True)
    response = door_client.post("/login", data={"email": door.email, "password": PASSWORD})
    assert response.status_code == 401

    assert client.post(f"/users/{door.id}/enable").status_code == 303
    db.refresh(door)
    assert door.active
    assert login(door_client, door)
    assert [e.changes["active"] for e in audit(db, "user.disabled")] == [[True, False]]
    assert [e.changes["active"] for e in audit(db, "user.enabled")] == [[False, True]]


def test_admin_cannot_lock_themselves_out(client, db, accounts):
    admin = accounts["admin"]
    login(client, admin)
    client.post(f"/users/{admin.id}/disable")
    response = client.post(f"/users/{admin.id}", data={"role": "door"})
    assert response.status_code == 422
    assert "You cannot change your own role" in response.get_data(as_text=True)
    db.refresh(admin)
    assert admin.active and admin.role == Role.ADMIN
    assert audit(db, "user.disabled") == [] and audit(db, "user.updated") == []


def test_the_last_active_admin_stays(app, db, accounts):
    admin = accounts["admin"]
    with app.app_context():
        with pytest.raises(services.DomainError, match="At least one active administrator"):
            services.set_active(db, admin, False, actor=None)
        with pytest.raises(services.DomainError, match="At least one active administrator"):
            services.update_user(db, admin, role=Role.DOOR, events=[], actor=None)
        second = services.create_user(db, "second@example.org", PASSWORD, Role.ADMIN)
        assert services.set_active(db, admin, False, actor=second)


@pytest.mark.parametrize("path", ["/users/999999", "/users/99999999999999999999", "/users/0"])
def test_unknown_account_is_404(client, accounts, path):
    login(client, accounts["admin"])
    assert client.get(path).status_code == 404
    assert client.post(path + "/disable").status_code == 404


# --- command line -----------------------------------------------------------------


@pytest.fixture
def runner(app, db, english_shell):
    return app.test_cli_runner()


def test_user_add_prompts_twice_for_the_password(runner, db, event):
    result = runner.invoke(
        args=["user", "add", "door.a@example.org", "--role", "door", "--event", event.slug],
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output  # hidden input
    created = user(db, "door.a@example.org")
    assert created.role == Role.DOOR and created.events == [event]
    assert services.check_password_hash(created.password_hash, PASSWORD)
    (entry,) = audit(db, "user.created")
    assert entry.user_id is None and entry.changes["events"] == [event.slug]


def test_user_add_refuses_a_confirmation_that_differs(runner, db):
    result = runner.invoke(
        args=["user", "add", "x@example.org", "--role", "organiser"],
        input=f"{PASSWORD}\nsomething else entirely\n",
    )
    assert result.exit_code != 0
    assert user(db, "x@example.org") is None


def test_user_add_reads_the_password_from_stdin(runner, db, app):
    result = runner.invoke(
        args=["user", "add", "admin2@example.org", "--role", "admin", "--password-stdin"],
        input=f"{PASSWORD}\r\nignored second line\n",
    )
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert services.authenticate(db, "admin2@example.org", PASSWORD) is not None


@pytest.mark.parametrize(
    "args,stdin,message",
    [
        (["--role", "door", "--event", "no-such-event"], PASSWORD, "No event with the slug"),
        (["--role", "door"], "short", "at least 12 characters"),
        (["--role", "door"], "", "no password on the first line of standard input"),
        (["--role", "door"], "\n", "no password on the first line of standard input"),
    ],
)
def test_user_add_errors_are_one_line(runner, db, args, stdin, message):
    result = runner.invoke(
        args=["user", "add", "y@example.org", "--password-stdin", *args], input=stdin
    )
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert user(db, "y@example.org") is None


def test_user_add_refuses_a_taken_or_bad_address_before_asking(runner, accounts):
    for email in ("organiser@example.org", "no-at-sign", "two\nlines@example.org"):
        result = runner.invoke(args=["user", "add", email, "--role", "door"])
        assert result.exit_code == 1
        assert "Password" not in result.output
        assert len(result.output.strip().splitlines()) == 1


def test_user_add_refuses_an_unknown_role(runner):
    result = runner.invoke(args=["user", "add", "z@example.org", "--role", "root"])
    assert result.exit_code == 2 and "root" in result.output


def test_user_list_disable_enable(runner, db, accounts, event):
    listing = runner.invoke(args=["user", "list"]).output.splitlines()
    assert f"door@example.org\tdoor\tactive\t{event.slug}" in listing
    assert "admin@example.org\tadmin\tactive\tall events" in listing

    result = runner.invoke(args=["user", "disable", "DOOR@example.org"])
    assert result.exit_code == 0 and "disabled" in result.output
    db.refresh(accounts["door"])
    assert not accounts["door"].active
    assert "door@example.org\tdoor\tdisabled" in runner.invoke(args=["user", "list"]).output
    assert runner.invoke(args=["user", "enable", "door@example.org"]).exit_code == 0
    db.refresh(accounts["door"])
    assert accounts["door"].active

    result = runner.invoke(args=["user", "disable", "nobody@example.org"])
    assert (
        result.exit_code == 1 and "No account with the address nobody@example.org" in result.output
    )
    result = runner.invoke(args=["user", "disable", "admin@example.org"])
    assert result.exit_code == 1 and "At least one active administrator" in result.output


def test_user_password(runner, db, app, accounts):
    result = runner.invoke(
        args=["user", "password", "door@example.org", "--password-stdin"],
        input="a brand new password\n",
    )
    assert result.exit_code == 0, result.output
    db.expire_all()
    with app.app_context():
        assert services.authenticate(db, "door@example.org", "a brand new password")
        assert services.authenticate(db, "door@example.org", PASSWORD) is None


def test_token_create_list_revoke(runner, db, client, accounts, event):
    result = runner.invoke(args=["token", "create", "door@example.org", "--name", "Door A"])
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    assert re.fullmatch(r"trk_[A-Za-z0-9_-]{43}", token)  # alone on its line, 256 bits
    stored = db.scalar(select(ApiToken).where(ApiToken.name == "Door A"))
    assert token not in stored.token_hash  # only its hash is kept

    # The token logs a request in as its account.
    response = client.get(f"/events/{event.slug}", headers={"Authorization": f"Bearer {token}"})
    assert "door@example.org" in response.get_data(as_text=True)

    listing = runner.invoke(args=["token", "list", "door@example.org"]).output
    assert listing.startswith("Door A\tactive\t") and token not in listing

    result = runner.invoke(args=["token", "revoke", "door@example.org", "--name", "Door A"])
    assert result.exit_code == 0 and "1 token revoked" in result.output
    assert runner.invoke(args=["token", "list", "door@example.org"]).output.startswith(
        "Door A\trevoked\t"
    )
    response = client.get(f"/events/{event.slug}", headers={"Authorization": f"Bearer {token}"})
    assert "door@example.org" not in response.get_data(as_text=True)

    result = runner.invoke(args=["token", "revoke", "door@example.org", "--name", "Door A"])
    assert result.exit_code == 1 and "No such token." in result.output
    assert [e.action for e in audit(db, "token.created")] == ["token.created"]
    assert [e.action for e in audit(db, "token.revoked")] == ["token.revoked"]


@pytest.mark.parametrize(
    "args,message",
    [
        (["token", "create", "nobody@example.org", "--name", "A"], "No account with the address"),
        (["token", "create", "door@example.org", "--name", "  "], "Give the token a name"),
        (["token", "create", "door@example.org", "--name", "n" * 101], "At most 100 characters"),
        (["token", "list", "nobody@example.org"], "No account with the address"),
    ],
)
def test_token_errors_are_one_line(runner, accounts, args, message):
    result = runner.invoke(args=args)
    assert result.exit_code == 1
    assert message in result.output and len(result.output.strip().splitlines()) == 1


def test_no_token_for_a_disabled_account(runner, db, accounts):
    runner.invoke(args=["user", "disable", "door@example.org"])
    result = runner.invoke(args=["token", "create", "door@example.org", "--name", "Door B"])
    assert result.exit_code == 1 and "This account is disabled." in result.output


def test_a_token_records_its_use_to_the_minute(app, db, accounts):
    from datetime import timedelta

    from tracker.auth.services import create_token, user_for_token
    from tracker.db import utcnow

    with app.app_context():
        token, record = create_token(db, accounts["door"], "Door B")
    start = utcnow()
    assert user_for_token(db, token, now=start) is not None
    assert record.last_used_at == start
    user_for_token(db, token, now=start + timedelta(seconds=59))
    assert record.last_used_at == start  # no write for each request of a busy door
    later = start + timedelta(seconds=61)
    user_for_token(db, token, now=later)
    assert record.last_used_at == later
