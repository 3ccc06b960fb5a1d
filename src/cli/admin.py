"""Commands an operator runs on the server's console: ``keys`` and ``licenses``. They
work on the database directly, as the console actor."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import click

if TYPE_CHECKING:
    from ferryman.models import ApiKey, App, License
    from ferryman.models import license as licenses
    from ferryman.settings import Settings

T = TypeVar("T")


@click.group()
def keys() -> None:
    """Create, list and revoke API keys."""


@keys.command("create")
@click.option("--scope", type=click.Choice(["admin", "ci"]), required=True)
@click.option("--app", "app_slug", metavar="SLUG", help="Limit the key to one app.")
@click.option("--name", required=True, help="What the key is for.")
@click.pass_obj
def keys_create(settings: Settings, scope: str, app_slug: str | None, name: str) -> None:
    """Create a key and print its secret (shown once)."""
    from ferryman import auth
    from ferryman.models import App
    from ferryman.models import api_key as api_keys
    from ferryman.models.actor import Actor, KeyScope

    async def create() -> tuple[ApiKey, str]:
        app_id = None
        if app_slug is not None:
            app = await App.get_or_none(slug=app_slug)
            if app is None:
                raise click.ClickException(f"no app has the slug {app_slug!r}")
            app_id = app.id
        minted = auth.mint()
        new = api_keys.NewKey(name, KeyScope(scope), app_id, minted.key_hash, minted.prefix)
        return await api_keys.create(Actor.console(), new), minted.secret

    key, secret = run(settings, create)
    click.echo(f"created {key.scope.value} key {key.id} ({key.name})", err=True)
    click.echo(secret)


@keys.command("revoke")
@click.argument("key_id")
@click.pass_obj
def keys_revoke(settings: Settings, key_id: str) -> None:
    """Revoke a key by its id (key_…)."""
    from ferryman.models import api_key as api_keys
    from ferryman.models.actor import Actor

    async def revoke() -> ApiKey:
        return await api_keys.revoke(Actor.console(), key_id)

    key = run(settings, revoke)
    click.echo(f"revoked {key.id} ({key.name}) at {key.revoked_at}")


@keys.command("list")
@click.pass_obj
def keys_list(settings: Settings) -> None:
    """List every key, newest first."""
    from ferryman.models import ApiKey

    async def rows() -> list[tuple[ApiKey, str]]:
        keys = await ApiKey.all().order_by("-id").prefetch_related("app")
        return [(k, k.app.slug if k.app else "*") for k in keys]

    for key, app in run(settings, rows):
        state = f"revoked {key.revoked_at:%Y-%m-%d}" if key.revoked_at else "active"
        used = f"{key.last_used_at:%Y-%m-%d %H:%M}" if key.last_used_at else "never"
        click.echo(
            f"{key.id}  {key.prefix}…  {key.scope.value:<5}  app={app:<20}  {state:<18}  "
            f"last used {used}  {key.name}"
        )


@click.group("licenses")
def licenses_group() -> None:
    """Import licences of an app (manage them one by one in GraphQL)."""


@licenses_group.command("import")
@click.option("--app", "app_slug", required=True, metavar="SLUG", help="The app's slug.")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the keys CSV to this file (created readable by you only) instead of "
    "standard output.",
)
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_obj
def licenses_import(settings: Settings, app_slug: str, output: Path | None, csv_file: Path) -> None:
    """Create the licences of CSV_FILE in one step: all of them, or none.

    CSV_FILE starts with a header naming the columns customer, starts_at and ends_at (ISO
    8601 dates or date-times, UTC unless they name an offset; empty: from now, for a year)
    and optionally key (an lk_… key to keep; empty: a new one is minted). Blank lines are
    skipped. Prints id,customer,key,starts_at,ends_at for each licence: the only place the
    keys are shown.
    """
    from ferryman import license_import
    from ferryman.models import App
    from ferryman.models import license as licenses
    from ferryman.models.actor import Actor
    from ferryman.models.errors import DomainError
    from ferryman.models.status import Distribution

    try:
        rows = license_import.read(csv_file)
        if output is not None:
            license_import.check_writable(output)
    except license_import.BadFile as error:
        raise click.ClickException(str(error)) from None

    async def create() -> tuple[App, list[License], dict[str, list[licenses.CoveragePeriod]]]:
        app = await App.get_or_none(slug=app_slug)
        if app is None:
            raise click.ClickException(f"no app has the slug {app_slug!r}")
        try:
            await license_import.check_unused(str(csv_file), rows)
            created = await licenses.create_many(
                Actor.console(), app.id, [row.new for row in rows], (license_import.FIELD,)
            )
        except license_import.BadFile as error:
            raise click.ClickException(str(error)) from None
        except DomainError as error:
            explained = license_import.explain(str(csv_file), error, rows)
            raise click.ClickException(str(explained)) from None
        return app, created, await licenses.periods_of([license.id for license in created])

    app, created, periods = run(settings, create)
    if output is None:
        license_import.write(sys.stdout, rows, created, periods)
    else:
        license_import.save(output, rows, created, periods)
    minted = sum(row.minted for row in rows)
    click.echo(
        f"imported {len(created)} licences for {app.slug} ({minted} new keys, "
        f"{len(created) - minted} kept); the keys are only in "
        f"{output or 'the CSV above'}: store it safely",
        err=True,
    )
    if app.distribution is Distribution.OPEN:
        click.echo(
            f"note: {app.slug} is OPEN, so updates ask for no licence until it is LICENSED",
            err=True,
        )


def run(settings: Settings, work: Callable[[], Awaitable[T]]) -> T:
    """Run one database task from the console, with clear errors for expected failures."""
    from tortoise import Tortoise, connections

    from ferryman.models.errors import DomainError
    from ferryman.models.registry import tortoise_config

    async def task() -> T:
        await Tortoise.init(config=tortoise_config(settings.database_url))
        try:
            return await work()
        except DomainError as error:
            raise click.ClickException(error.message) from None
        finally:
            await connections.close_all()

    return asyncio.run(task())


async def bootstrap_key() -> str | None:
    """A first global admin key on a database that has none (``ferryman dev``)."""
    from ferryman import auth
    from ferryman.models import ApiKey
    from ferryman.models import api_key as api_keys
    from ferryman.models.actor import Actor, KeyScope

    if await ApiKey.exists():
        return None
    minted = auth.mint()
    new = api_keys.NewKey("bootstrap admin", KeyScope.ADMIN, None, minted.key_hash, minted.prefix)
    await api_keys.create(Actor.console(), new)
    return minted.secret
