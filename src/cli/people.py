"""``ferryman users``: people who sign in to the web console, managed from the server's
console. Passwords never pass the command line: each command prints a one-time sign-in
link where the person chooses theirs."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from ferryman.cli.admin import run

if TYPE_CHECKING:
    from ferryman.models.user import Link, User
    from ferryman.settings import Settings

_ROLES = ("owner", "admin", "viewer")


@click.group()
def users() -> None:
    """Add people to the web console, reset their passwords, list them."""


@users.command("create")
@click.option("--email", required=True, help="The address they sign in with.")
@click.option("--role", type=click.Choice(_ROLES), required=True)
@click.option(
    "--app",
    "app_slugs",
    multiple=True,
    metavar="SLUG",
    help="Limit them to this app (repeat for several); without it, every app.",
)
@click.pass_obj
def users_create(settings: Settings, email: str, role: str, app_slugs: tuple[str, ...]) -> None:
    """Add a person and print their one-time sign-in link."""
    from ferryman.models import App
    from ferryman.models import user as people
    from ferryman.models.actor import Actor, Role

    async def create() -> tuple[User, str]:
        app_ids: frozenset[str] | None = None
        if app_slugs:
            found = dict(await App.filter(slug__in=app_slugs).values_list("slug", "id"))
            missing = sorted(set(app_slugs) - set(found))
            if missing:
                raise click.ClickException(f"no app has the slug {missing[0]!r}")
            app_ids = frozenset(str(app_id) for app_id in found.values())
        link, secret = _new_link()
        access = people.Access(Role(role), app_ids)
        return await people.create(Actor.console(), email, access, link), secret

    user, secret = run(settings, create)
    where = ", ".join(app_slugs) if app_slugs else "every app"
    click.echo(f"added {user.email} ({user.id}) as {role} of {where}", err=True)
    _print_link(settings, secret)


@users.command("reset-password")
@click.option("--email", required=True)
@click.pass_obj
def users_reset(settings: Settings, email: str) -> None:
    """Forget a person's password, sign them out everywhere, and print a one-time link
    where they choose a new one."""
    from ferryman.models import user as people
    from ferryman.models.actor import Actor

    async def reset() -> tuple[User, str]:
        user = await people.by_email(email)
        if user is None:
            raise click.ClickException(f"nobody signs in as {email!r}")
        link, secret = _new_link()
        return await people.reset(Actor.console(), user.id, link), secret

    user, secret = run(settings, reset)
    click.echo(f"reset the password of {user.email}; their sessions have ended", err=True)
    _print_link(settings, secret)


@users.command("list")
@click.pass_obj
def users_list(settings: Settings) -> None:
    """List everyone, oldest first."""
    from ferryman.models import App, User

    async def rows() -> list[tuple[User, str]]:
        slugs = dict(await App.all().values_list("id", "slug"))
        listed = []
        for user in await User.all().order_by("id"):
            app_ids = await user.app_ids()
            where = "*" if app_ids is None else ",".join(sorted(slugs[a] for a in app_ids))
            listed.append((user, where))
        return listed

    for user, where in run(settings, rows):
        state = "active" if user.password_hash else "awaiting sign-in"
        click.echo(f"{user.id}  {user.role.value:<6}  apps={where:<20}  {state:<16}  {user.email}")


async def bootstrap_owner(settings: Settings) -> str | None:
    """A first owner of every app on a database without one (``ferryman dev``): its
    one-time sign-in link, or None."""
    from ferryman.models import user as people
    from ferryman.models.actor import Actor, Role

    if await people.User.exists():
        return None
    link, secret = _new_link()
    access = people.Access(Role.OWNER, None)
    await people.create(Actor.console(), "owner@ferryman.localhost", access, link)
    return _link_url(settings, secret)


def _new_link() -> tuple[Link, str]:
    from ferryman import auth
    from ferryman.models import user as people

    minted = auth.mint(auth.LINK_PREFIX)
    return people.Link(minted.key_hash, people.link_expiry()), minted.secret


def _link_url(settings: Settings, secret: str) -> str:
    from ferryman.console.paths import welcome_path

    return settings.base_url + welcome_path(secret)


def _print_link(settings: Settings, secret: str) -> None:
    from ferryman.models.user import LINK_LIFETIME

    hours = int(LINK_LIFETIME.total_seconds() // 3600)
    click.echo(f"one-time sign-in link (works once, for {hours} hours):", err=True)
    click.echo(_link_url(settings, secret))
