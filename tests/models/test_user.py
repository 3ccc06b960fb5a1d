"""People and their roles: one permission model with API keys, who may manage whom, the
last owner, one-time links, and viewers changing nothing through any operation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ferryman import auth, passwords
from ferryman.models import App, AuditEvent, Release, Session, User
from ferryman.models import app as apps
from ferryman.models import artifact as artifacts
from ferryman.models import release as releases
from ferryman.models import session as sessions
from ferryman.models import user as people
from ferryman.models.actor import Actor, Role
from ferryman.models.errors import Forbidden, InvalidInput, InvalidState, NotFound, Taken
from ferryman.signatures import Verifier
from tests.support.rows import add_artifact

pytestmark = pytest.mark.usefixtures("orm_url")
CONSOLE = Actor.console()
NO_STORE: Any = None  # the rules refuse, or answer, before they need the bucket
LIFETIME = sessions.Lifetime(idle=timedelta(hours=2), absolute=timedelta(hours=24))


def link() -> people.Link:
    return people.Link(auth.mint(auth.LINK_PREFIX).key_hash, people.link_expiry())


async def make_app(slug: str) -> App:
    return await apps.create(CONSOLE, apps.AppChanges(slug=slug, name=slug))


async def person(email: str, role: Role, app_ids: frozenset[str] | None = None) -> Actor:
    user = await people.create(CONSOLE, email, people.Access(role, app_ids), link())
    return await user.as_actor(None)


async def test_a_person_acts_with_their_role_on_their_apps_only() -> None:
    mine, theirs = await make_app("mine"), await make_app("theirs")
    admin = await person("a@example.com", Role.ADMIN, frozenset({mine.id}))

    assert admin.role is Role.ADMIN
    assert admin.apps == {mine.id}
    assert admin.user_id
    assert [app.slug for app in await apps.visible(admin)] == ["mine"]
    await releases.create(admin, mine.id, releases.ReleaseChanges(version="1.0.0"))
    with pytest.raises(NotFound):
        await releases.create(admin, theirs.id, releases.ReleaseChanges(version="1.0.0"))
    with pytest.raises(Forbidden, match="global admin person"):
        await apps.create(admin, apps.AppChanges(slug="new", name="New"))

    event = await AuditEvent.filter(action="release.create").get()
    assert (event.user_id, event.key_id) == (admin.user_id, None)


async def test_a_viewer_reads_but_every_change_is_refused() -> None:
    app = await make_app("seen")
    release = await releases.create(CONSOLE, app.id, releases.ReleaseChanges(version="1.0.0"))
    viewer = await person("v@example.com", Role.VIEWER)

    assert [a.slug for a in await apps.visible(viewer)] == ["seen"]
    assert await releases.get_visible(viewer, release.id)
    changes = [
        releases.create(viewer, app.id, releases.ReleaseChanges(version="2.0.0")),
        releases.update(viewer, release.id, releases.ReleaseChanges(notes="x")),
        releases.delete(viewer, release.id),
        releases.publish(viewer, release.id),
        apps.update(viewer, app.id, apps.AppChanges(name="Renamed")),
        apps.delete(viewer, app.id),
    ]
    for change in changes:
        with pytest.raises(Forbidden, match="viewers change nothing"):
            await change
    assert await Release.filter(app_id=app.id).count() == 1
    assert (await App.get(id=app.id)).name == "seen"


async def test_the_audit_trail_refuses_a_viewer_whatever_check_was_missed() -> None:
    from ferryman.models import audit_event

    viewer = await person("v@example.com", Role.VIEWER)
    with pytest.raises(Forbidden, match="viewers change nothing"):
        await audit_event.record(viewer, "app.update", "app_x", None, "anything")


async def test_only_owners_manage_people_and_limited_owners_only_within_their_apps() -> None:
    mine, other = await make_app("mine"), await make_app("other")
    admin = await person("admin@example.com", Role.ADMIN)
    with pytest.raises(Forbidden, match="needs an owner"):
        await people.create(admin, "x@example.com", people.Access(Role.VIEWER, None), link())

    limited = await person("lo@example.com", Role.OWNER, frozenset({mine.id}))
    with pytest.raises(InvalidInput, match="choose apps"):
        await people.create(limited, "x@example.com", people.Access(Role.VIEWER, None), link())
    elsewhere = people.Access(Role.VIEWER, frozenset({other.id}))
    with pytest.raises(NotFound):
        await people.create(limited, "x@example.com", elsewhere, link())
    added = await people.create(
        limited, "x@example.com", people.Access(Role.VIEWER, frozenset({mine.id})), link()
    )
    # A limited owner manages the people within their apps, never the others.
    assert {u.email for u in await people.visible(limited)} == {"lo@example.com", added.email}
    assert await User.filter(email="x@example.com").count() == 1


async def test_the_last_owner_of_every_app_stays_one() -> None:
    first = await people.create(
        CONSOLE, "first@example.com", people.Access(Role.OWNER, None), link()
    )
    with pytest.raises(InvalidState, match="last owner"):
        await people.change_access(CONSOLE, first.id, people.Access(Role.ADMIN, None))
    with pytest.raises(InvalidState, match="last owner"):
        await people.delete(CONSOLE, first.id)

    second = await person("second@example.com", Role.OWNER)
    await people.change_access(second, first.id, people.Access(Role.VIEWER, None))
    assert (await User.get(id=first.id)).role is Role.VIEWER
    with pytest.raises(InvalidState, match="cannot remove yourself"):
        await people.delete(second, second.user_id or "")


@pytest.mark.parametrize(
    ("email", "accepted"),
    [("Ann@Example.COM ", "ann@example.com"), ("not-an-address", None), ("a@b", None)],
)
async def test_email_addresses_are_checked_and_compared_without_case(
    email: str, accepted: str | None
) -> None:
    access = people.Access(Role.ADMIN, None)
    if accepted is None:
        with pytest.raises(InvalidInput, match="is not an email address"):
            await people.create(CONSOLE, email, access, link())
        assert await User.all().count() == 0
        return
    user = await people.create(CONSOLE, email, access, link())
    assert user.email == accepted
    assert await people.by_email("ANN@example.com") is not None
    with pytest.raises(Taken, match="already has an account"):
        await people.create(CONSOLE, "ann@EXAMPLE.com", access, link())


async def test_a_person_role_is_never_ci() -> None:
    with pytest.raises(InvalidInput, match="owner, admin, viewer"):
        await people.create(CONSOLE, "ci@example.com", people.Access(Role.CI, None), link())


async def test_a_link_works_once_and_not_after_it_expires() -> None:
    fresh, stale = link(), people.Link(auth.mint(auth.LINK_PREFIX).key_hash, datetime.now(UTC))
    access = people.Access(Role.ADMIN, None)
    await people.create(CONSOLE, "fresh@example.com", access, fresh)
    await people.create(CONSOLE, "stale@example.com", access, stale)
    password = await passwords.hashed("a long enough passphrase")
    now = datetime.now(UTC)

    user = await people.redeem(fresh.link_hash, password, now)
    assert user.password_hash == password
    assert user.link_hash is None
    for spent in (fresh, stale):
        with pytest.raises(InvalidState, match="expired or was already used"):
            await people.redeem(spent.link_hash, password, now)
    event = await AuditEvent.get(action="user.password")
    assert event.user_id == user.id


async def test_a_reset_forgets_the_password_and_ends_every_session() -> None:
    user = await people.create(CONSOLE, "r@example.com", people.Access(Role.ADMIN, None), link())
    now = datetime.now(UTC)
    for _ in range(2):
        await sessions.start(user.id, auth.mint(auth.SESSION_PREFIX).key_hash, LIFETIME, now)
    assert await Session.filter(user_id=user.id).count() == 2

    reset = await people.reset(CONSOLE, user.id, link())
    assert reset.password_hash is None
    assert reset.link_hash is not None
    assert await Session.filter(user_id=user.id).count() == 0


async def test_sessions_end_when_idle_or_too_old() -> None:
    user = await people.create(CONSOLE, "s@example.com", people.Access(Role.ADMIN, None), link())
    now = datetime.now(UTC)
    token = auth.mint(auth.SESSION_PREFIX).key_hash
    await sessions.start(user.id, token, LIFETIME, now)

    assert await sessions.find(token, LIFETIME, now + timedelta(hours=1)) is not None
    assert await sessions.find(token, LIFETIME, now + timedelta(hours=2, minutes=59)) is not None
    # Used an hour ago, so not idle; but past its absolute age.
    assert await sessions.find(token, LIFETIME, now + timedelta(hours=24)) is None
    assert not await Session.exists()

    idle = auth.mint(auth.SESSION_PREFIX).key_hash
    await sessions.start(user.id, idle, LIFETIME, now)
    assert await sessions.find(idle, LIFETIME, now + timedelta(hours=2)) is None


async def test_passwords_are_checked_before_hashing_and_argon2id_hashed() -> None:
    for weak, reason in [
        ("short", "at least 12"),
        ("x" * 1025, "at most 1024"),
        ("me@example.com", "other than your email"),
        ("a long pass\x00phrase", "NUL"),
    ]:
        with pytest.raises(passwords.WeakPassword, match=reason):
            passwords.check(weak, "me@example.com")
    digest = await passwords.hashed("a long enough passphrase")
    assert digest.startswith("$argon2id$")
    assert await passwords.matches(digest, "a long enough passphrase")
    assert not await passwords.matches(digest, "a long enough passphrasE")
    assert not await passwords.matches(None, "a long enough passphrase")


async def test_a_viewer_may_not_even_confirm_a_ready_artifact_again() -> None:
    """Confirming a READY artifact changes nothing, but it is a change to ask for."""
    app = await make_app("seen")
    release = await releases.create(CONSOLE, app.id, releases.ReleaseChanges(version="1.0.0"))
    artifact_id = await add_artifact(release.id)
    viewer = await person("v@example.com", Role.VIEWER)
    with pytest.raises(Forbidden, match="viewers change nothing"):
        await artifacts.confirm(viewer, artifact_id, NO_STORE, Verifier.for_upload)
    assert (await artifacts.confirm(CONSOLE, artifact_id, NO_STORE, Verifier.for_upload)).id
