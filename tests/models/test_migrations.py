"""The committed migrations match the models and build the schema on this engine."""

from datetime import UTC, date, datetime
from pathlib import Path

from tortoise import Tortoise, connections
from tortoise.context import TortoiseContext
from tortoise.migrations import api as migrations_api
from tortoise.migrations.autodetector import MigrationAutodetector

from ferryman.models import ApiKey, App, Artifact, Release
from ferryman.models.registry import MIGRATION_CONFIG, migrate, tortoise_config
from ferryman.models.usage import DownloadCount
from tests.conftest import Databases

MIGRATIONS = Path(__file__).parent.parent.parent / "src" / "models" / "migrations"
DATA = Path(__file__).parent.parent / "data" / "tauri"
TABLES = {
    "apps",
    "releases",
    "artifacts",
    "api_keys",
    "check_counts",
    "active_counts",
    "sketch_counts",
    "download_counts",
    "audit_events",
    "daily_keys",
}


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


async def test_existing_artifacts_get_the_version_their_signature_names(
    databases: Databases,
) -> None:
    """0008 reads ``signedVersion`` out of the signatures stored before it existed."""
    url = databases.empty()
    await migrations_api.migrate(
        config=tortoise_config(url), target="models.0007_licences_rollouts_yanks"
    )
    signed = (DATA / "MyApp_1.2.3_amd64.AppImage.sig").read_text()  # version:1.2.3
    unsigned = (DATA / "MyApp.app.tar.gz.sig").read_text()  # no version
    await Tortoise.init(config=tortoise_config(url))
    try:
        client = connections.get("default")
        marks = "?, ?, ?, ?" if databases.engine == "sqlite" else "$1, $2, $3, $4"
        now = "CURRENT_TIMESTAMP"
        await client.execute_script(
            "INSERT INTO apps (id, slug, name, channels, created_at, updated_at) "
            f"VALUES ('app_1', 'old', 'Old', 'stable', {now}, {now});"
            "INSERT INTO releases (id, app_id, version, status, channel, created_at, updated_at) "
            f"VALUES ('rel_1', 'app_1', '1.2.3', 'DRAFT', 'stable', {now}, {now});"
        )
        for artifact_id, platform, signature in (
            ("art_1", "linux-x86_64", signed),
            ("art_2", "darwin-aarch64", unsigned),
        ):
            await client.execute_query(
                "INSERT INTO artifacts (id, release_id, platform, signature, object_key, status, "
                f"created_at, updated_at) VALUES ({marks}, 'k', 'READY', {now}, {now})",
                [artifact_id, "rel_1", platform, signature],
            )
    finally:
        await connections.close_all()
    await migrate(url)
    await Tortoise.init(config=tortoise_config(url))
    try:
        found = dict(await Artifact.all().values_list("platform", "signed_version"))
    finally:
        await connections.close_all()
    assert found == {"linux-x86_64": "1.2.3", "darwin-aarch64": None}


async def test_download_events_become_daily_counts(databases: Databases) -> None:
    """0016 rolls each day's download events up into counts and drops the events. An event
    whose artifact is gone counts under its app's most stable channel."""
    url = databases.empty()
    await migrations_api.migrate(config=tortoise_config(url), target="models.0015_daily_keys")
    await Tortoise.init(config=tortoise_config(url))
    try:
        app = await App.create(id="app_1", slug="old", name="Old", channels="lts,stable,beta")
        release = await Release.create(id="rel_1", app=app, version="1.2.3", channel="beta")
        client = connections.get("default")
        marks = ", ".join("?" * 6) if databases.engine == "sqlite" else "$1, $2, $3, $4, $5, $6"
        # Written as 0015 knew the table: the model has columns added since.
        await client.execute_query(
            "INSERT INTO artifacts (id, release_id, platform, signature, object_key, status, "
            f"created_at, updated_at) VALUES ({marks}, "
            f"{'?, ?' if databases.engine == 'sqlite' else '$7, $8'})",
            ["art_1", release.id, "linux-x86_64", "s", "k", "PENDING", *[datetime.now(UTC)] * 2],
        )
        artifact = await Artifact.get(id="art_1").only("id")
        events = [
            ("dl_1", artifact.id, "DE", "2026-11-02 23:59:59"),
            ("dl_2", artifact.id, "DE", "2026-11-02 00:00:00"),
            ("dl_3", artifact.id, None, "2026-11-02 12:00:00"),
            ("dl_4", None, "FR", "2026-11-03 00:00:01"),
        ]
        for event_id, artifact_id, country, at in events:
            when: object = at
            if databases.engine == "postgres":
                when = datetime.fromisoformat(at).replace(tzinfo=UTC)
            await client.execute_query(
                "INSERT INTO download_events "
                "(id, artifact_id, app_id, platform, version, ip_country, downloaded_at) "
                f"VALUES ({marks}, {'?' if databases.engine == 'sqlite' else '$7'})",
                [event_id, artifact_id, "app_1", "linux-x86_64", "1.2.3", country, when],
            )
    finally:
        await connections.close_all()
    await migrate(url)
    await Tortoise.init(config=tortoise_config(url))
    try:
        rows = await DownloadCount.all().values_list("day", "channel", "country", "downloads")
        _, tables = await connections.get("default").execute_query(
            "SELECT table_name FROM information_schema.tables WHERE table_name = 'download_events'"
            if databases.engine == "postgres"
            else "SELECT name FROM sqlite_master WHERE name = 'download_events'"
        )
    finally:
        await connections.close_all()
    assert sorted(rows) == [
        (date(2026, 11, 2), "beta", "DE", 2),
        (date(2026, 11, 2), "beta", "XX", 1),
        (date(2026, 11, 3), "lts", "FR", 1),
    ]
    assert list(tables) == [], "the events are dropped"
