"""The ``ferryman`` command.

Three kinds of command, one module each: :mod:`.server` runs and sets up the server,
:mod:`.admin` manages keys and licences, :mod:`.people` the console's users and
:mod:`.stats` exports the analytics from the server's console, :mod:`.publish` is the
client CI runs. Each imports what it needs only when it runs, so ``ferryman --help`` and
``ferryman publish`` (on a CI runner with only the client installed) start at once.
"""

from __future__ import annotations

import sys

import click

from ferryman.cli import admin, people, publish, server, stats
from ferryman.settings import SettingsError

# Commands that are clients of some server: this machine's server settings do not matter.
_CLIENT_COMMANDS = frozenset({"publish"})


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Ferryman: a self-hosted update server for Tauri apps."""
    if ctx.invoked_subcommand in _CLIENT_COMMANDS or ctx.resilient_parsing:
        return
    from ferryman import logs
    from ferryman.settings import Settings

    ctx.obj = Settings.from_env()
    logs.configure(ctx.obj.log_level, json_lines=ctx.obj.log_format == "json")


for command in (
    server.serve,
    server.dev,
    server.migrate,
    server.export_schema,
    admin.keys,
    admin.licenses_group,
    people.users,
    stats.stats,
    publish.publish_command,
):
    cli.add_command(command)


def main() -> None:
    try:
        cli()
    except SettingsError as error:
        click.echo(f"ferryman: invalid setting: {error}", err=True)
        sys.exit(2)
