"""``ferryman users``: people added and reset from the server's console, each with a
one-time sign-in link that is the only place a secret appears."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ferryman import auth
from ferryman.models import Session, User
from ferryman.models import app as apps
from ferryman.models import session as sessions
from ferryman.models.actor import Actor, Role
from tests.support.cli import ferryman
from tests.support.database import bound

LIFETIME = sessions.Lifetime(idle=timedelta(hours=1), absolute=timedelta(hours=1))
LINK = re.compile(r"^http://127\.0\.0\.1:8000/console/welcome/(sl_[0-9A-Za-z]{40})$")


def link_of(stdout: str) -> str:
    found = LINK.fullmatch(stdout.strip())
    assert found is not None, stdout
    return found[1]


async def test_users_create_prints_a_one_time_link_and_limits_to_the_apps_named(
    database_url: str,
    tmp_path: Path,
) -> None:
    async with bound(database_url):
        await apps.create(Actor.console(), apps.AppChanges(slug="my-app", name="My App"))
    created = ferryman(
        "users",
        "create",
        "--email",
        "Ann@Example.com",
        "--role",
        "admin",
        "--app",
        "my-app",
        database_url=database_url,
        cwd=tmp_path,
    )
    assert created.returncode == 0, created.stderr
    secret = link_of(created.stdout)
    assert "added ann@example.com" in created.stderr
    assert "my-app" in created.stderr
    async with bound(database_url):
        user = await User.get(email="ann@example.com")
        assert user.role is Role.ADMIN
        assert user.link_hash == auth.hash_key(secret)
        assert user.password_hash is None
        assert len(await user.app_ids() or ()) == 1

    listed = ferryman("users", "list", database_url=database_url, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "apps=my-app" in listed.stdout
    assert "awaiting sign-in" in listed.stdout
    assert secret not in listed.stdout


async def test_users_create_refuses_bad_input_and_changes_nothing(
    database_url: str,
    tmp_path: Path,
) -> None:
    for args, message in [
        (("--email", "a@example.com", "--role", "admin", "--app", "nope"), "no app has the slug"),
        (("--email", "not-an-address", "--role", "admin"), "is not an email address"),
        (("--email", "a@example.com", "--role", "ci"), "Invalid value for '--role'"),
    ]:
        result = ferryman("users", "create", *args, database_url=database_url, cwd=tmp_path)
        assert result.returncode != 0
        assert message in result.stderr
        assert result.stdout == ""
    async with bound(database_url):
        assert await User.all().count() == 0


async def test_users_reset_password_ends_sessions_and_prints_a_new_link(
    database_url: str,
    tmp_path: Path,
) -> None:
    first = ferryman(
        "users",
        "create",
        "--email",
        "b@example.com",
        "--role",
        "owner",
        database_url=database_url,
        cwd=tmp_path,
    )
    old = link_of(first.stdout)
    async with bound(database_url):
        user = await User.get(email="b@example.com")
        token = auth.mint(auth.SESSION_PREFIX).key_hash
        await sessions.start(user.id, token, LIFETIME, datetime.now(UTC))

    reset = ferryman(
        "users",
        "reset-password",
        "--email",
        "B@example.com",
        database_url=database_url,
        cwd=tmp_path,
    )
    assert reset.returncode == 0, reset.stderr
    new = link_of(reset.stdout)
    assert new != old
    assert "sessions have ended" in reset.stderr
    async with bound(database_url):
        user = await User.get(email="b@example.com")
        assert user.link_hash == auth.hash_key(new)
        assert await Session.filter(user_id=user.id).count() == 0

    unknown = ferryman(
        "users",
        "reset-password",
        "--email",
        "x@example.com",
        database_url=database_url,
        cwd=tmp_path,
    )
    assert unknown.returncode != 0
    assert "nobody signs in as 'x@example.com'" in unknown.stderr
