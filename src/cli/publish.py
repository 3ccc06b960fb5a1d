"""``ferryman publish``: the client CI runs to upload a bundle's signed artifacts. It needs
only the server's URL and a key (``pip install ferryman`` installs just this client)."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("publish")
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
    from ferryman import publisher

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
    if result.not_published:
        raise click.ClickException(result.not_published)
    if not result.ok:
        failed = [o.artifact.path.name for o in result.outcomes if o.status != "READY"]
        raise click.ClickException(
            f"{len(failed)} artifact(s) failed: {', '.join(failed)}"
            + ("; not published" if make_live else "")
        )
