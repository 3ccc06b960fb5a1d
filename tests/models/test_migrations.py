"""The committed migrations match the models and build the schema on this engine."""

from pathlib import Path

from tortoise import Tortoise, connections
from tortoise.context import TortoiseContext
from tortoise.migrations.autodetector import MigrationAutodetector

from ferryman.models import ApiKey, App, Release
from ferryman.models.registry import MIGRATION_CONFIG, migrate, tortoise_config
from tests.conftest import Databases

MIGRATIONS = Path(__file__).parent.parent.parent / "src" / "models" / "migrations"
TABLES = {"apps", "releases", "artifacts", "api_keys", "download_events", "audit_events"}


async def test_committed_migrations_match_the_models() -> None:
    apps_config = MIGRATION_CONFIG["apps"]
    async with TortoiseContext() as ctx:
        await ctx.init(config=MIGRATION_CONFIG)
        assert ctx.apps is not None
        pending = await MigrationAutodetector(ctx.apps, apps_config).changes()
    assert [w.name for w in pending] == [], (
        "models changed without a migration: run `tortoise makemigrations` and commit it"
    )


async def test_migrations_build_every_table_on_an_empty_database(databases: Databases) -> None:
    url = databases.empty()
    await migrate(url)
    await migrate(url)  # a second run finds nothing to do
    await Tortoise.init(config=tortoise_config(url))
    try:
        client = connections.get("default")
        if databases.engine == "postgres":
            sql = "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        else:
            sql = "SELECT name AS tablename FROM sqlite_master WHERE type = 'table'"
        _, rows = await client.execute_query(sql)
        tables = {row["tablename"] for row in rows}
        assert tables >= TABLES | {"tortoise_migrations"}
        _, applied = await client.execute_query("SELECT name FROM tortoise_migrations")
        committed = sorted(p.stem for p in MIGRATIONS.glob("0*.py"))
        assert committed[0] == "0001_initial"
        assert sorted(row["name"] for row in applied) == committed
        assert await App.all().count() == 0
        assert await Release.all().count() == 0
        assert await ApiKey.all().count() == 0
    finally:
        await connections.close_all()
