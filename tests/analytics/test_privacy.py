"""The issue's limit on privacy: nothing stored or logged contains an IP address, an
install id, a licence key or a user agent. The real server (``ferryman serve``), behind
a trusted proxy that names each client's address, with every part of analytics on and
its log at DEBUG, answers update checks (edge-cache MISS and HIT) and downloads of an
OPEN and a LICENSED app, each request with values of its own. Once the server has
stopped (and so written its counts), every value of every table, the database's files
and every log line are searched for every value sent; and ``/metrics`` for them and for
the LICENSED app's versions."""

from __future__ import annotations

import asyncio
import ipaddress
import itertools
import json
import secrets
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from ferryman.auth import hash_key
from ferryman.local_s3 import LocalS3
from tests.conftest import server_env
from tests.services import ServerProcess
from tests.support.database import bound, every_value
from tests.support.documents import APP_UPDATE, LICENSE_CREATE
from tests.support.live_server import Server, create_app, graphql, publish, ready_draft

LATEST = "1.2.3"
PLATFORM = "linux/x86_64"
# Every run's values are its own: found anywhere, they can only have come from this run.
RUN = secrets.token_hex(4)
# Addresses the server is meant to log: GraphQL requests' (people answer for what they
# do), sent the same ways, to prove the proxy's addresses do reach the log, and in which
# form (an IPv6 address is logged normalised).
CANARIES = {
    "X-Forwarded-For": ("198.18.77.201", "198.18.77.201"),
    "CF-Connecting-IP": ("2001:DB8:0:0:0:0:0:CAFE", "2001:db8::cafe"),
}


@dataclass
class Sent:
    """Every identifying value sent, to be searched for afterwards."""

    values: list[str] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def headers(self, licence: dict[str, str] | None = None) -> dict[str, str]:
        """The headers of one request: an address of its own (IPv4 through
        ``X-Forwarded-For``, IPv6 in a long form through ``CF-Connecting-IP``), a user
        agent and, for two requests in three, an install id of its own."""
        n = next(self.counter)
        agent = f"tauri-plugin-updater/2.13.1 (privacy {RUN} {n})"
        headers = {"User-Agent": agent, "X-Last-Check-Day": "never", "CF-IPCountry": "NZ"}
        self.values.append(agent)
        if n % 2:
            address = f"203.0.113.{n}"
            headers["X-Forwarded-For"] = address
            self.values.append(address)
        else:
            address = f"2001:DB8:0:0:{RUN[:4]}:0:0:{n:X}"
            headers["CF-Connecting-IP"] = address
            ip = ipaddress.IPv6Address(address)
            self.values += [address, str(ip), ip.exploded]
        if n % 3:
            install = f"install-{RUN}-{n}"
            headers["X-Install-Id"] = install
            self.values.append(install)
        return headers | (licence or {})

    def get(self, url: str, licence: dict[str, str] | None = None) -> httpx.Response:
        answer = httpx.get(url, headers=self.headers(licence))
        self.paths.append(httpx.URL(url).path)
        return answer


def check_until_hit(sent: Sent, url: str, licences: list[dict[str, str]]) -> list[str]:
    """Check ``url`` (with each of ``licences`` in turn) until the edge answers one from
    its cache; the download links offered. A publish purges the edge, and the watcher may
    purge it once more after, so the first few may all be MISSes."""
    statuses, links = [], []
    for n in range(50):
        answer = sent.get(url, licences[n % len(licences)] if licences else None)
        assert answer.status_code == 200, answer.text
        links.append(answer.json()["url"])
        statuses.append(answer.headers["cf-cache-status"])
        if statuses[-1] == "HIT" and "MISS" in statuses:
            return links
        time.sleep(0.05)
    raise AssertionError(f"no HIT after a MISS: {statuses}")


def serve(server: ServerProcess, admin_key: str) -> tuple[Sent, list[str], list[str], str]:
    """Set the apps up, send the traffic; what was sent, the apps' ids, the licence keys
    and the metrics."""
    live: Server = (server.url, admin_key)
    open_app = create_app(live, "open-app")
    paid_app = create_app(live, "paid-app")
    graphql(live, APP_UPDATE, {"id": paid_app, "input": {"distribution": "LICENSED"}})
    keys = [
        graphql(live, LICENSE_CREATE, {"input": {"appId": paid_app, "customer": "ACME"}})["key"]
        for _ in range(2)
    ]
    for app_id in (open_app, paid_app):
        publish(live, ready_draft(live, app_id, LATEST))
    licences = [{"Authorization": f"Bearer {keys[0]}"}, {"X-License-Key": keys[1]}]

    sent = Sent()
    for slug, presented in (("open-app", []), ("paid-app", licences)):
        links = check_until_hit(sent, f"{server.url}/{slug}/update/{PLATFORM}/1.0.0", presented)
        for link in {*links[:1], *links[-1:]}:
            download = sent.get(link)
            assert download.status_code in (302, 307), download.text
    for header, (address, _) in CANARIES.items():
        people = httpx.post(
            f"{server.url}/graphql",
            json={"query": "{ apps(first: 1) { totalCount } }"},
            headers={"Authorization": f"Bearer {admin_key}", header: address},
        )
        assert people.status_code == 200, people.text
    metrics = httpx.get(f"{server.url}/metrics")
    assert metrics.status_code == 200
    return sent, [open_app, paid_app], keys, metrics.text


def found_in(haystack: str, needles: list[str]) -> list[str]:
    lowered = haystack.lower()
    return [needle for needle in needles if needle.lower() in lowered]


def test_nothing_stored_logged_or_measured_names_an_install(
    database_url: str, s3: LocalS3, bucket: str, tmp_path: Path
) -> None:
    env = server_env(database_url, s3, bucket, tmp_path) | {
        "FERRYMAN_LOG_LEVEL": "DEBUG",
        "FERRYMAN_TRUSTED_PROXIES": "127.0.0.1,::1",
    }
    server = ServerProcess(env, tmp_path / "server.log")
    admin_key = server.command("keys", "create", "--scope", "admin", "--name", "privacy").strip()
    with server:
        server.start()
        sent, app_ids, keys, metrics = serve(server, admin_key)
        # A clean stop writes the last counts (uvicorn then dies of the signal it caught:
        # -SIGTERM; SIGKILL would mean it did not stop in time).
        assert server.terminate() in (0, -signal.SIGTERM)
    searched = [*sent.values, *keys]
    # What the server makes of a key to find its licence: no count may hold it either.
    key_hashes = [hash_key(key) for key in keys]

    log = server.log_text()
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    access = [line for line in lines if line.get("logger") == "ferryman.access"]
    assert {line.get("path") for line in access} >= set(sent.paths)
    assert {"HIT", "MISS"} <= {line.get("cache") for line in access}
    logged = {line.get("client") for line in access}
    assert logged >= {normalised for _, normalised in CANARIES.values()}
    assert found_in(log, searched) == []
    # At DEBUG the database drivers log each statement's parameters, and a licence is
    # looked up by its key's hash; any line kept at INFO and above must not have it.
    kept = "\n".join(line for line in log.splitlines() if '"level": "DEBUG"' not in line)
    assert found_in(kept, key_hashes) == []

    stored, files = asyncio.run(read_database(database_url))
    # Both apps' checks and downloads were counted: the search below is not of nothing.
    counted = {(table, value) for table, column, value in stored if column == "app_id"}
    for table in ("check_counts", "active_counts", "sketch_counts", "download_counts"):
        assert {(table, app_id) for app_id in app_ids} <= counted, table
    leaks = [
        (table, column, needle)
        for table, column, value in stored
        for needle in found_in(as_text(value), searched)
    ]
    assert leaks == []
    # The admin API stores each licence's key as its hash (never the key), in its licence
    # row: that, and only that, is where a hash may be.
    hashed = [
        (table, column) for table, column, value in stored if found_in(as_text(value), key_hashes)
    ]
    assert sorted(set(hashed) - {("licenses", "(row)")}) == [("licenses", "key_hash")]
    assert hashed.count(("licenses", "key_hash")) == len(keys)
    for name, data in files.items():  # free pages and the journal included
        assert found_in(data.decode("latin-1"), searched) == [], name

    assert found_in(metrics, [*searched, *key_hashes]) == []
    # Update checks by app and answer: the OPEN app's version is named, the LICENSED app's
    # only as "update".
    samples = [
        sample for family in text_string_to_metric_families(metrics) for sample in family.samples
    ]
    offers = [
        (sample.labels["app"], sample.labels["answered"])
        for sample in samples
        if sample.name == "ferryman_update_checks_total"
    ]
    assert {answered for app, answered in offers if app == "open-app"} == {LATEST}
    assert {answered for app, answered in offers if app == "paid-app"} == {"update"}
    paid = [sample.labels for sample in samples if "paid-app" in sample.labels.values()]
    assert [labels for labels in paid if LATEST in labels.values()] == []


async def read_database(url: str) -> tuple[list[tuple[str, str, object]], dict[str, bytes]]:
    """Every stored value; on SQLite, the bytes of the database's files too."""
    files = {}
    if url.startswith("sqlite://"):
        path = Path(url.removeprefix("sqlite://"))
        for name in (
            path,
            path.with_name(f"{path.name}-wal"),
            path.with_name(f"{path.name}-journal"),
        ):
            if name.exists():
                files[name.name] = name.read_bytes()
        assert path.name in files
    async with bound(url):
        return await every_value(), files


def as_text(value: object) -> str:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("latin-1")
    return "" if value is None else str(value)
