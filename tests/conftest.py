"""Fixtures: real databases (SQLite files, a throwaway PostgreSQL cluster) and the real app.

The suite runs on SQLite by default and on PostgreSQL with ``pytest --db postgres``,
which starts its own cluster on a free port. Each test gets a fresh database cloned
from one migrated template, so every test starts from the committed migrations.

``scripts/test`` runs the suite with pytest-xdist. Session fixtures are set up once per
worker: each worker has its own SeaweedFS, cluster and template on ports of their own, and
its own temporary folder, so database and bucket names need only be unique within one.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import logging
import shutil
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import Future
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.exceptions import BotoCoreError, ClientError
from starlette.applications import Starlette
from starlette.types import ASGIApp
from tortoise import Tortoise, connections

from ferryman import auth
from ferryman.app import create_app
from ferryman.background import BACKGROUND
from ferryman.local_s3 import LocalS3
from ferryman.models import api_key as api_keys
from ferryman.models.actor import Actor, KeyScope
from ferryman.models.registry import migrate, tortoise_config
from ferryman.settings import Settings
from tests.services import ClusterSession, PostgresCluster, ServerProcess, sqlite_url
from tests.support import live_server as live
from tests.support.shipping import Shipyard
from tests.support.tauri_files import APPIMAGE, DATA

BASE_URL = "http://ferryman.test"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--db",
        choices=("sqlite", "postgres"),
        default="sqlite",
        help="database engine for the suite (postgres starts a throwaway cluster)",
    )


class Databases:
    """Hands out fresh, migrated databases of the selected engine.

    On PostgreSQL the next test's database is cloned while the current test runs, over a
    connection kept open, so a test waits neither for the copy nor for ``psql`` to start;
    a test's database is dropped after it, over another, so that the cluster stays small
    (a run of hundreds of leftover copies took a minute to delete at the end).
    """

    def __init__(self, engine: str, workdir: Path) -> None:
        self.engine = engine
        self.workdir = workdir
        self.count = 0
        self.cluster: PostgresCluster | None = None
        self.session: ClusterSession | None = None
        self.sweeper: ClusterSession | None = None
        if engine == "postgres":
            self.cluster = PostgresCluster.start()
            self.cluster.create_database("template_ferryman")
            self.template_url = self.cluster.url("template_ferryman")
        else:
            self.template_url = sqlite_url(workdir / "template.sqlite3")
        asyncio.run(migrate(self.template_url))
        if self.cluster is not None:
            self.session = ClusterSession(self.cluster)
            self.sweeper = ClusterSession(self.cluster)
            self._ahead = self._clone()

    def fresh(self) -> str:
        """A new database with every migration applied, cloned from the template."""
        if self.cluster is not None:
            name, cloned = self._ahead
            cloned.result()
            self._ahead = self._clone()
            return self.cluster.url(name)
        self.count += 1
        path = self.workdir / f"test_{self.count}.sqlite3"
        shutil.copyfile(self.workdir / "template.sqlite3", path)
        return sqlite_url(path)

    def _clone(self) -> tuple[str, Future[str]]:
        assert self.session is not None
        self.count += 1
        name = f"test_{self.count}"
        return name, self.session.submit(f'CREATE DATABASE "{name}" TEMPLATE "template_ferryman"')

    def discard(self, url: str) -> None:
        """Drop a database a test has finished with, in the background (PostgreSQL; each
        SQLite file goes with the run's temporary folder)."""
        if self.sweeper is not None:
            name = url.rsplit("/", 1)[1]
            self.sweeper.submit(f'DROP DATABASE "{name}" WITH (FORCE)')

    def empty(self) -> str:
        """A new database with no tables at all."""
        self.count += 1
        if self.cluster is not None:
            assert self.session is not None
            name = f"empty_{self.count}"
            self.session.submit(f'CREATE DATABASE "{name}"').result()
            return self.cluster.url(name)
        return sqlite_url(self.workdir / f"empty_{self.count}.sqlite3")

    def stop(self) -> None:
        for session in (self.session, self.sweeper):
            if session is not None:
                session.close()
        if self.cluster is not None:
            self.cluster.stop()


@pytest.fixture(scope="session")
def databases(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Databases]:
    dbs = Databases(request.config.getoption("--db"), tmp_path_factory.mktemp("db"))
    yield dbs
    dbs.stop()


@pytest.fixture
def database_url(databases: Databases) -> Iterator[str]:
    url = databases.fresh()
    yield url
    databases.discard(url)


@pytest.fixture
async def orm_url(database_url: str) -> AsyncIterator[str]:
    """A fresh database with Tortoise set up on it but no server lifespan (so no watcher or
    other background job but the test's own); yields its URL."""
    await Tortoise.init(config=tortoise_config(database_url))
    yield database_url
    await connections.close_all()


@pytest.fixture(scope="session")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalS3]:
    """One SeaweedFS for the run, credentials enforced; each test gets its own bucket."""
    server = LocalS3(tmp_path_factory.mktemp("s3"))
    server.start("ferryman")
    yield server
    server.stop()


@pytest.fixture
def bucket(s3: LocalS3) -> Iterator[str]:
    """A bucket of the test's own, removed with everything in it afterwards: SeaweedFS
    gives every bucket volumes of its own, and a run of a thousand would use them up."""
    name = f"t-{next(_buckets)}"
    s3.client.create_bucket(Bucket=name)
    yield name
    with contextlib.suppress(BotoCoreError, ClientError):  # a test may have stopped S3
        empty_bucket(s3, name)
        s3.client.delete_bucket(Bucket=name)


def empty_bucket(s3: LocalS3, name: str) -> None:
    client = s3.client
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=name):
        keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
        if keys:
            client.delete_objects(Bucket=name, Delete={"Objects": keys})
    for upload in client.list_multipart_uploads(Bucket=name).get("Uploads", []):
        client.abort_multipart_upload(Bucket=name, Key=upload["Key"], UploadId=upload["UploadId"])


_buckets = itertools.count(1)


@pytest.fixture
def settings(database_url: str, tmp_path: Path, s3: LocalS3, bucket: str) -> Settings:
    return Settings(
        database_url=database_url,
        graphiql_assets=tmp_path / "no-graphiql-assets",
        s3_endpoint=s3.endpoint,
        s3_region=s3.region,
        s3_bucket=bucket,
        s3_access_key_id=s3.credentials.access_key_id,
        s3_secret_access_key=s3.credentials.secret_access_key,
        # Tests that send notifications run a dispatcher of their own, with their clock.
        send_notifications=False,
    )


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Starlette]:
    async with serving(settings) as application:
        yield application


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with peer(app) as c:
        yield c


@asynccontextmanager
async def serving(settings: Settings, **changes: Any) -> AsyncIterator[Starlette]:
    """The real app with ``changes`` to its settings, its lifespan running."""
    application = create_app(dataclasses.replace(settings, **changes))
    async with application.router.lifespan_context(application):
        yield application


def peer(application: ASGIApp, address: str = "127.0.0.1", port: int = 50000) -> httpx.AsyncClient:
    """A client that reaches the app from ``address`` (no proxy in between)."""
    transport = httpx.ASGITransport(app=application, client=(address, port))
    return httpx.AsyncClient(transport=transport, base_url=BASE_URL)


@dataclass
class GraphQL:
    """Posts GraphQL documents to the app, with a key of the test's choosing."""

    client: httpx.AsyncClient

    async def __call__(
        self, query: str, variables: dict[str, Any] | None = None, *, key: str | None
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        response = await self.client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


@pytest.fixture
def gql(client: httpx.AsyncClient) -> GraphQL:
    return GraphQL(client)


async def make_key(scope: KeyScope, app_id: str | None = None, name: str = "test key") -> str:
    """Mint a key as the console would and return its secret (needs the app's lifespan)."""
    minted = auth.mint()
    new = api_keys.NewKey(name, scope, app_id, minted.key_hash, minted.prefix)
    await api_keys.create(Actor.console(), new)
    return minted.secret


@pytest.fixture
async def admin_key(app: Starlette) -> str:
    return await make_key(KeyScope.ADMIN, name="global admin")


@pytest.fixture
async def yard(client: httpx.AsyncClient, gql: GraphQL, admin_key: str) -> Shipyard:
    """my-app, with an updater key of its own, shipping through the real upload path."""
    return await Shipyard.open(client, gql, admin_key)


class QueryCounter(logging.Handler):
    """Counts the SQL statements Tortoise's database clients log for requests (not those of
    background jobs, such as the generation watcher's polls, which run beside them)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.statements: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            task = asyncio.current_task()
        except RuntimeError:  # logged outside an event loop
            task = None
        if task is not None and task.get_name().startswith(BACKGROUND):
            return
        message = record.getMessage()
        if message.lstrip().split(" ", 1)[0].upper() in {"SELECT", "INSERT", "UPDATE", "DELETE"}:
            self.statements.append(message)


@pytest.fixture
def sql_log() -> Iterator[QueryCounter]:
    logger = logging.getLogger("tortoise.db_client")
    counter = QueryCounter()
    level, disabled = logger.level, logger.disabled
    logger.setLevel(logging.DEBUG)
    logger.disabled = False
    logger.addHandler(counter)
    try:
        yield counter
    finally:
        logger.removeHandler(counter)
        logger.setLevel(level)
        logger.disabled = disabled


def server_env(database_url: str, s3: LocalS3, bucket: str, tmp_path: Path) -> dict[str, str]:
    """The settings of a ``ferryman serve`` on this database and bucket, as FERRYMAN_ variables."""
    return {
        "FERRYMAN_DATABASE_URL": database_url,
        "FERRYMAN_S3_ENDPOINT": s3.endpoint,
        "FERRYMAN_S3_BUCKET": bucket,
        "FERRYMAN_S3_ACCESS_KEY_ID": s3.credentials.access_key_id,
        "FERRYMAN_S3_SECRET_ACCESS_KEY": s3.credentials.secret_access_key,
        "FERRYMAN_GRAPHIQL_ASSETS": str(tmp_path / "none"),
    }


@pytest.fixture
def live_server(
    database_url: str, s3: LocalS3, bucket: str, tmp_path: Path
) -> Iterator[tuple[str, str]]:
    """The real server (``ferryman serve``) on a free port, with an admin key: (url, key)."""
    server = ServerProcess(server_env(database_url, s3, bucket, tmp_path), tmp_path / "server.log")
    key = server.command("keys", "create", "--scope", "admin", "--name", "e2e").strip()
    with server:
        server.start()
        yield server.url, key


@pytest.fixture
def publish_server(live_server: tuple[str, str]) -> tuple[str, str]:
    """The real server with the app my-app, whose updater key signed the committed files."""
    live.create_app(live_server)
    return live_server


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    """A Tauri bundle folder as CI has it: the committed AppImage with its .sig, and a
    .deb without one (not an updater file)."""
    directory = tmp_path / "bundle"
    (directory / "appimage").mkdir(parents=True)
    (directory / "deb").mkdir()
    for name in (APPIMAGE, f"{APPIMAGE}.sig"):
        shutil.copy(DATA / name, directory / "appimage" / name)
    (directory / "deb" / "MyApp_1.2.3_amd64.deb").write_bytes(b"unsigned: not an updater file")
    return directory


@pytest.fixture
def cluster(databases: Databases) -> Iterator[PostgresCluster]:
    """A PostgreSQL cluster of this test's own, so it can be stopped under the running app.

    Tortoise keeps per-model SQL for the engine a process first used, so this runs in the
    PostgreSQL pass of the suite, not beside SQLite.
    """
    if databases.engine != "postgres":
        pytest.skip("stops a PostgreSQL server under the app: runs with --db postgres")
    started = PostgresCluster.start()
    started.create_database("ferryman")
    yield started
    if started.directory.exists():
        started.stop()
