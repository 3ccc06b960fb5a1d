"""The ``ferryman`` command: run the server, migrate, and manage keys and licences from the
console."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click
import uvicorn
from tortoise import Tortoise, connections

from ferryman import auth, license_import, logs, metrics, publisher
from ferryman.app import create_app
from ferryman.local_s3 import LocalS3, LocalS3Error
from ferryman.models import ApiKey, App, License
from ferryman.models import api_key as api_keys
from ferryman.models import license as licenses
from ferryman.models.actor import Actor, KeyScope
from ferryman.models.errors import DomainError
from ferryman.models.registry import migrate as migrate_database
from ferryman.models.registry import tortoise_config
from ferryman.models.status import Distribution
from ferryman.resolvers.schema import build_schema
from ferryman.settings import PREFIX, Settings, SettingsError

T = TypeVar("T")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Ferryman: a self-hosted update server for Tauri apps."""
    if ctx.invoked_subcommand in _CLIENT_COMMANDS:
        return  # a client of some server: this machine's server settings do not matter
    ctx.obj = Settings.from_env()
    logs.configure(ctx.obj.log_level, json_lines=ctx.obj.log_format == "json")


@cli.command()
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes (default: FERRYMAN_WORKERS, 1). More than one needs PostgreSQL.",
)
@click.pass_obj
def serve(settings: Settings, workers: int | None) -> None:
    """Run the server (the database must be migrated)."""
    if settings.uses_local_s3:
        raise click.ClickException(
            "FERRYMAN_S3_ENDPOINT is not set: `serve` needs an S3 or R2 bucket "
            "(see deploy/env.example); `ferryman dev` runs a local one instead"
        )
    if workers is not None:
        try:
            settings = Settings.from_env({**os.environ, f"{PREFIX}WORKERS": str(workers)})
        except SettingsError as error:
            raise click.ClickException(str(error)) from None
    if settings.workers == 1:
        _serve(settings)
        return
    # Each worker is a new process that reads its settings from the environment.
    os.environ[f"{PREFIX}WORKERS"] = str(settings.workers)
    with tempfile.TemporaryDirectory(prefix="ferryman-metrics-") as shared:
        metrics.share_between_workers(shared)
        click.echo(f"Ferryman on {settings.base_url} with {settings.workers} workers")
        uvicorn.run(
            "ferryman.app:from_environment",
            factory=True,
            workers=settings.workers,
            **_uvicorn_options(settings),
        )


@cli.command()
@click.pass_obj
def dev(settings: Settings) -> None:
    """Migrate, start a local S3 when none is set, mint a first admin key, and serve."""
    if not settings.uses_local_s3:
        _dev(settings)
        return
    local = LocalS3(settings.local_s3_dir)
    try:
        local.start(settings.s3_bucket)
    except LocalS3Error as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Local S3 (SeaweedFS) on {local.endpoint}, data in {settings.local_s3_dir}")
    # uvicorn re-raises SIGTERM once it has shut down; turn it into an exit so that the
    # local S3 server is stopped below instead of being left behind.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    try:
        _dev(
            dataclasses.replace(
                settings,
                s3_endpoint=local.endpoint,
                s3_region=local.region,
                s3_access_key_id=local.credentials.access_key_id,
                s3_secret_access_key=local.credentials.secret_access_key,
            )
        )
    finally:
        local.stop()


def _dev(settings: Settings) -> None:
    asyncio.run(migrate_database(settings.database_url))
    secret = _run(settings, _bootstrap_key)
    if secret:
        click.echo(
            "\nFirst start: created a global admin API key. It is shown only now:\n\n"
            f"    {secret}\n\n"
            'In GraphiQL, open "Headers" and paste:\n'
            f'    {{"Authorization": "Bearer {secret}"}}\n'
        )
    _serve(settings)


@cli.command()
@click.pass_obj
def migrate(settings: Settings) -> None:
    """Apply the database migrations."""
    asyncio.run(migrate_database(settings.database_url))
    click.echo("database is up to date")


@cli.group()
def keys() -> None:
    """Create, list and revoke API keys."""


@keys.command("create")
@click.option("--scope", type=click.Choice(["admin", "ci"]), required=True)
@click.option("--app", "app_slug", metavar="SLUG", help="Limit the key to one app.")
@click.option("--name", required=True, help="What the key is for.")
@click.pass_obj
def keys_create(settings: Settings, scope: str, app_slug: str | None, name: str) -> None:
    """Create a key and print its secret (shown once)."""

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

    key, secret = _run(settings, create)
    click.echo(f"created {key.scope.value} key {key.id} ({key.name})", err=True)
    click.echo(secret)


@keys.command("revoke")
@click.argument("key_id")
@click.pass_obj
def keys_revoke(settings: Settings, key_id: str) -> None:
    """Revoke a key by its id (key_…)."""

    async def revoke() -> ApiKey:
        return await api_keys.revoke(Actor.console(), key_id)

    key = _run(settings, revoke)
    click.echo(f"revoked {key.id} ({key.name}) at {key.revoked_at}")


@keys.command("list")
@click.pass_obj
def keys_list(settings: Settings) -> None:
    """List every key, newest first."""

    async def rows() -> list[tuple[ApiKey, str]]:
        keys = await ApiKey.all().order_by("-id").prefetch_related("app")
        return [(k, k.app.slug if k.app else "*") for k in keys]

    for key, app in _run(settings, rows):
        state = f"revoked {key.revoked_at:%Y-%m-%d}" if key.revoked_at else "active"
        used = f"{key.last_used_at:%Y-%m-%d %H:%M}" if key.last_used_at else "never"
        click.echo(
            f"{key.id}  {key.prefix}…  {key.scope.value:<5}  app={app:<20}  {state:<18}  "
            f"last used {used}  {key.name}"
        )


@cli.group("licenses")
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
            await license_import.check_unused(csv_file, rows)
            created = await licenses.create_many(
                Actor.console(), app.id, [row.new for row in rows], (license_import.FIELD,)
            )
        except license_import.BadFile as error:
            raise click.ClickException(str(error)) from None
        except DomainError as error:
            raise click.ClickException(license_import.explain(csv_file, error, rows)) from None
        return app, created, await licenses.periods_of([license.id for license in created])

    app, created, periods = _run(settings, create)
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


@cli.command("export-schema")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write to this file instead of standard output.",
)
def export_schema(output: Path | None) -> None:
    """Print the GraphQL schema (SDL)."""
    sdl = build_schema().as_str() + "\n"
    if output is None:
        click.echo(sdl, nl=False)
    else:
        output.write_text(sdl)


@cli.command("publish")
@click.option(
    "--server",
    envvar="FERRYMAN_SERVER",
    required=True,
    metavar="URL",
    help="The Ferryman server, e.g. https://updates.example.com [env FERRYMAN_SERVER].",
)
@click.option(
    "--api-key",
    envvar="FERRYMAN_API_KEY",
    required=True,
    help="An admin key, or a ci key for the app [env FERRYMAN_API_KEY].",
)
@click.option("--app", "app_slug", required=True, metavar="SLUG", help="The app's slug.")
@click.option("--version", help="Default: tauri.conf.json, then Cargo.toml, then the git tag v*.")
@click.option(
    "--platform",
    "platforms",
    multiple=True,
    metavar="FILE=KEY",
    help="The platform key of a file, e.g. MyApp.app.tar.gz=darwin-aarch64 (repeatable).",
)
@click.option(
    "--notes-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Markdown release notes, e.g. CHANGELOG.md.",
)
@click.option(
    "--publish", "make_live", is_flag=True, help="Publish the release once every artifact is READY."
)
@click.option("--dry-run", is_flag=True, help="Show what would be uploaded, and upload nothing.")
@click.argument(
    "files_or_dir", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path)
)
def publish_command(
    server: str,
    api_key: str,
    app_slug: str,
    version: str | None,
    platforms: tuple[str, ...],
    notes_file: Path | None,
    make_live: bool,
    dry_run: bool,
    files_or_dir: tuple[Path, ...],
) -> None:
    """Upload a Tauri bundle's signed updater artifacts as a release (from CI).

    FILES_OR_DIR are updater files (each with its .sig beside it) or a bundle directory
    such as src-tauri/target/release/bundle.
    """
    try:
        request = publisher.Request(
            server=server,
            api_key=api_key,
            app=app_slug,
            version=publisher.checked_version(version or publisher.default_version(Path.cwd())),
            artifacts=publisher.find_artifacts(files_or_dir, publisher.parse_overrides(platforms)),
            notes=notes_file.read_text() if notes_file else None,
            publish=make_live,
        )
        if dry_run:
            publisher.dry_run(request, publisher.make_console())
            return
        result = publisher.publish(
            request, publisher.make_console(), publisher.make_console(stderr=True)
        )
    except publisher.PublishError as error:
        raise click.ClickException(str(error)) from None
    if not result.ok:
        failed = [o.artifact.path.name for o in result.outcomes if o.status != "READY"]
        raise click.ClickException(
            f"{len(failed)} artifact(s) failed: {', '.join(failed)}"
            + ("; not published" if make_live else "")
        )


_CLIENT_COMMANDS = frozenset({"publish"})


def main() -> None:
    try:
        cli()
    except SettingsError as error:
        click.echo(f"ferryman: invalid setting: {error}", err=True)
        sys.exit(2)


def _serve(settings: Settings) -> None:
    click.echo(f"Ferryman on {settings.base_url} - GraphiQL: {settings.base_url}/graphql")
    uvicorn.run(create_app(settings), **_uvicorn_options(settings))


def _uvicorn_options(settings: Settings) -> dict[str, Any]:
    # Logging is Ferryman's (logs.configure; ferryman.access replaces uvicorn's access
    # log), and so are proxy headers: only trusted proxies may set the client address.
    return {
        "host": settings.host,
        "port": settings.port,
        "log_config": None,
        "access_log": False,
        "proxy_headers": False,
        "server_header": False,
    }


def _run(settings: Settings, work: Callable[[], Awaitable[T]]) -> T:
    """Run one database task from the console, with clear errors for expected failures."""

    async def run() -> T:
        await Tortoise.init(config=tortoise_config(settings.database_url))
        try:
            return await work()
        except DomainError as error:
            raise click.ClickException(error.message) from None
        finally:
            await connections.close_all()

    return asyncio.run(run())


async def _bootstrap_key() -> str | None:
    if await ApiKey.exists():
        return None
    minted = auth.mint()
    new = api_keys.NewKey("bootstrap admin", KeyScope.ADMIN, None, minted.key_hash, minted.prefix)
    await api_keys.create(Actor.console(), new)
    return minted.secret
