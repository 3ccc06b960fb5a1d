"""Commands that set up and run the server: ``serve``, ``dev``, ``migrate`` and
``export-schema``. The server stack is imported inside each command."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ferryman.settings import PREFIX

if TYPE_CHECKING:
    from ferryman.settings import Settings


@click.command()
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes (default: FERRYMAN_WORKERS, 1), on either database.",
)
@click.pass_obj
def serve(settings: Settings, workers: int | None) -> None:
    """Run the server (the database must be migrated)."""
    import uvicorn

    from ferryman import metrics

    if settings.uses_local_s3:
        raise click.ClickException(
            "FERRYMAN_S3_ENDPOINT is not set: `serve` needs an S3 or R2 bucket "
            "(see deploy/env.example); `ferryman dev` runs a local one instead"
        )
    if workers is not None:
        settings = dataclasses.replace(settings, workers=workers)
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
            **uvicorn_options(settings),
        )


@click.command()
@click.pass_obj
def dev(settings: Settings) -> None:
    """Migrate, start a local S3 when none is set, mint a first admin key, and serve."""
    from ferryman.local_s3 import LocalS3, LocalS3Error

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
        local.allow_browser_uploads(settings.s3_bucket, console_origins(settings))
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


def console_origins(settings: Settings) -> list[str]:
    """Where a browser opens the console: the base URL, and the same port under either
    loopback name when no public URL is set."""
    if settings.public_url:
        return [settings.base_url]
    loopback = [f"http://{name}:{settings.port}" for name in ("127.0.0.1", "localhost")]
    return list(dict.fromkeys([settings.base_url, *loopback]))


def _dev(settings: Settings) -> None:
    from ferryman.cli.admin import bootstrap_key, run
    from ferryman.cli.people import bootstrap_owner
    from ferryman.models.registry import migrate as migrate_database

    asyncio.run(migrate_database(settings.database_url))
    secret = run(settings, bootstrap_key)
    if secret:
        click.echo(
            "\nFirst start: created a global admin API key. It is shown only now:\n\n"
            f"    {secret}\n\n"
            'In GraphiQL, open "Headers" and paste:\n'
            f'    {{"Authorization": "Bearer {secret}"}}\n'
        )
    link = run(settings, lambda: bootstrap_owner(settings))
    if link:
        click.echo(
            "First start: created the console's first owner. Open this one-time link to "
            f"choose a password (it works once, for a day):\n\n    {link}\n"
        )
    _serve(settings)


@click.command()
@click.pass_obj
def migrate(settings: Settings) -> None:
    """Apply the database migrations."""
    from ferryman.models.registry import migrate as migrate_database

    asyncio.run(migrate_database(settings.database_url))
    click.echo("database is up to date")


@click.command("export-schema")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write to this file instead of standard output.",
)
def export_schema(output: Path | None) -> None:
    """Print the GraphQL schema (SDL)."""
    from ferryman.resolvers.schema import build_schema

    sdl = build_schema().as_str() + "\n"
    if output is None:
        click.echo(sdl, nl=False)
    else:
        output.write_text(sdl)


def _serve(settings: Settings) -> None:
    import uvicorn

    from ferryman.app import create_app

    click.echo(f"Ferryman on {settings.base_url} - GraphiQL: {settings.base_url}/graphql")
    uvicorn.run(create_app(settings), **uvicorn_options(settings))


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """How ``serve`` runs uvicorn, besides the app and the workers."""
    # Logging is Ferryman's (logs.configure; ferryman.access replaces uvicorn's access
    # log), and so are proxy headers: only trusted proxies may set the client address.
    # Fresh edge-cache HITs are answered in uvicorn's protocol, below ASGI.
    return {
        "host": settings.host,
        "port": settings.port,
        "http": "ferryman.express_lane:ExpressProtocol",
        "log_config": None,
        "access_log": False,
        "proxy_headers": False,
        "server_header": False,
    }
