"""Fresh HITs answered in uvicorn's protocol (:mod:`ferryman.express_lane`), on real sockets.

The app under test (conftest's, its lifespan running) is served by a real uvicorn server
with Ferryman's protocol, on a free port; requests are written byte for byte, so
pipelining and connection handling are what a client really gets. Releases are written
with the models (:mod:`tests.support.rows`).
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest
import uvicorn
from prometheus_client import REGISTRY
from starlette.applications import Starlette
from starlette.types import Scope

from ferryman import logs
from ferryman.cli.server import uvicorn_options
from ferryman.express_lane import ExpressLane
from ferryman.metrics import TALLY
from ferryman.models.actor import Actor
from ferryman.models.rollout import rollout
from ferryman.settings import Settings
from tests.conftest import serving
from tests.support import licences, rows

CHECK = "/lane/update/linux/x86_64/1.0.0"
HEADERS_TO_IGNORE = {"date", "x-request-id"}  # differ from one answer to the next
REQUEST_ID = re.compile(r"[0-9a-f]{26}")


class RequestIds(logging.Handler):
    """The request id in the log context of each line, as the server's log shows it."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str | None] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append(logs.request_id.get())


@dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        return next((value for key, value in self.headers if key == name), None)

    @property
    def comparable(self) -> tuple[int, list[tuple[str, str]], bytes]:
        kept = [(k, v) for k, v in self.headers if k not in HEADERS_TO_IGNORE]
        return self.status, kept, self.body


@dataclass
class Wire:
    """The served app's address, and how many answers its express lane gave."""

    port: int
    lane: ExpressLane
    express: list[bool]  # per request the lane saw: did it answer?

    async def ask(self, *requests: bytes, close: bool = False) -> list[Answer]:
        """Write ``requests`` at once on one connection and read as many answers."""
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        try:
            writer.write(b"".join(requests))
            await writer.drain()
            answers = [await _read(reader) for _ in requests]
            if close:
                assert await asyncio.wait_for(reader.read(), 5) == b"", "left open"
            return answers
        finally:
            writer.close()


def get(path: str = CHECK, *headers: str, version: str = "1.1") -> bytes:
    lines = [f"GET {path} HTTP/{version}", "Host: updates.test", *headers, "", ""]
    return "\r\n".join(lines).encode()


async def _read(reader: asyncio.StreamReader) -> Answer:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    status_line, *lines = head.decode("latin-1").rstrip("\r\n").split("\r\n")
    headers = [(name.lower(), value) for name, _, value in (x.partition(": ") for x in lines)]
    length = int(dict(headers).get("content-length", "0"))
    return Answer(int(status_line.split(" ")[1]), headers, await reader.readexactly(length))


@pytest.fixture
async def wire(
    app: Starlette, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Wire]:
    """The app on a real socket, served by uvicorn as ``ferryman serve`` runs it."""
    async with served(app, settings, monkeypatch) as served_wire:
        yield served_wire


@pytest.fixture
async def uncached(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Wire]:
    """The same with the edge cache off (``FERRYMAN_EDGE_CACHE_BYTES=0``) and a budget of
    five update checks a minute per address."""
    changes = {"edge_cache_bytes": 0, "rate_limit_updates": 5}
    async with (
        serving(settings, **changes) as application,
        served(application, settings, monkeypatch) as served_wire,
    ):
        yield served_wire


@asynccontextmanager
async def served(
    app: Starlette, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Wire]:
    lane = app.express_lane  # type: ignore[attr-defined]
    assert isinstance(lane, ExpressLane)
    express: list[bool] = []
    answer = lane.answer

    def observed(scope: Scope, *args: object) -> bytes | None:
        written = answer(scope, *args)  # type: ignore[arg-type]
        express.append(written is not None)
        return written

    monkeypatch.setattr(lane, "answer", observed)
    options = {**uvicorn_options(settings), "host": "127.0.0.1", "port": 0, "lifespan": "off"}
    server = uvicorn.Server(uvicorn.Config(app, **options))
    serving_task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            assert not serving_task.done(), serving_task.exception()
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield Wire(port, lane, express)
    finally:
        server.should_exit = True
        await serving_task


@pytest.fixture
async def released(app: Starlette) -> None:
    await rows.publish("lane", "1.2.0", ["linux-x86_64"])


@pytest.mark.usefixtures("released")
async def test_a_hit_takes_the_lane_and_matches_the_asgi_answer_byte_for_byte(
    wire: Wire,
) -> None:
    miss, hit = await wire.ask(get(), get())
    # A conditional request that does not match goes through ASGI, answered from the cache.
    (through_asgi,) = await wire.ask(get(CHECK, 'If-None-Match: "another"'))

    assert (miss.header("cf-cache-status"), hit.header("cf-cache-status")) == ("MISS", "HIT")
    assert wire.express == [False, True, False]
    assert through_asgi.header("cf-cache-status") == "HIT"
    assert hit.comparable == through_asgi.comparable
    assert hit.status == 200
    assert b'"version":"1.2.0"' in hit.body
    assert hit.header("date") is not None
    assert hit.header("x-ferryman-offer") is None  # taken off, as the front layer does


@pytest.mark.usefixtures("released")
async def test_each_lane_answer_has_its_own_request_id_and_is_counted(wire: Wire) -> None:
    await wire.ask(get())  # the MISS that fills the edge
    TALLY.flush()
    labels = {"app": "lane", "answered": "1.2.0"}
    checks = REGISTRY.get_sample_value("ferryman_update_checks_total", labels) or 0.0
    hits = REGISTRY.get_sample_value("ferryman_edge_cache_responses_total", {"status": "HIT"})

    answers = await wire.ask(get(), get(), get())

    assert wire.express == [False, True, True, True]
    ids = [answer.header("x-request-id") or "" for answer in answers]
    assert all(REQUEST_ID.fullmatch(request_id) for request_id in ids), ids
    assert len(set(ids)) == 3
    TALLY.flush()
    assert REGISTRY.get_sample_value("ferryman_update_checks_total", labels) == checks + 3
    hits_now = REGISTRY.get_sample_value("ferryman_edge_cache_responses_total", {"status": "HIT"})
    assert hits_now == (hits or 0.0) + 3


@pytest.mark.usefixtures("released")
async def test_pipelined_answers_keep_their_order_around_an_origin_call(wire: Wire) -> None:
    await wire.ask(get())
    other = "/lane/update/darwin/aarch64/1.0.0"  # not cached yet: the origin answers it

    first, second, third = await wire.ask(get(), get(other), get())

    assert [a.header("cf-cache-status") for a in (first, second, third)] == [
        "HIT",
        "MISS",
        "HIT",
    ]
    assert (first.status, second.status, third.status) == (200, 204, 200)
    assert wire.express == [False, True, False, True]


@pytest.mark.usefixtures("released")
async def test_thousands_of_pipelined_hits_are_answered_in_order(wire: Wire) -> None:
    await wire.ask(get())
    requests = [get(f"{CHECK}?n={n}") for n in range(3000)]  # unknown parameters: one key

    answers = await wire.ask(get("/lane/update/darwin/aarch64/1.0.0"), *requests)

    assert [a.header("cf-cache-status") for a in answers] == ["MISS"] + ["HIT"] * 3000
    assert wire.express.count(True) == 3000


@pytest.mark.usefixtures("released")
@pytest.mark.parametrize(
    "request_",
    [get(CHECK, "Connection: close"), get(CHECK, version="1.0")],
    ids=["connection-close", "http-1.0"],
)
async def test_a_lane_answer_closes_the_connection_when_the_client_asked(
    wire: Wire, request_: bytes
) -> None:
    await wire.ask(get())

    (answer,) = await wire.ask(request_, close=True)

    assert answer.header("connection") == "close"
    assert answer.header("cf-cache-status") == "HIT"
    assert wire.express == [False, True]


@pytest.mark.usefixtures("released")
async def test_a_publish_is_never_hidden_by_the_lane(wire: Wire) -> None:
    (before,) = await wire.ask(get())
    await wire.ask(get())

    await rows.publish("lane", "1.3.0", ["linux-x86_64"])
    (after,) = await wire.ask(get())

    assert b'"version":"1.2.0"' in before.body
    assert after.header("cf-cache-status") == "MISS"
    assert b'"version":"1.3.0"' in after.body
    assert wire.express == [False, True, False]


@pytest.mark.usefixtures("released")
async def test_a_malformed_install_id_is_refused_even_when_the_answer_is_cached(
    wire: Wire,
) -> None:
    await wire.ask(get())

    (refused,) = await wire.ask(get(CHECK, "X-Install-Id: not an id"))

    assert refused.status == 400
    assert b"X-Install-Id" in refused.body
    assert wire.express == [False, False]


@pytest.mark.usefixtures("released")
async def test_a_lane_hit_is_logged_at_debug_with_its_request_id(
    wire: Wire, caplog: pytest.LogCaptureFixture
) -> None:
    await wire.ask(get())
    caplog.set_level(logging.DEBUG, logger="ferryman.access")

    (hit,) = await wire.ask(get())

    lines = [r for r in caplog.records if r.name == "ferryman.access"]
    assert [(r.levelno, r.__dict__["cache"], r.__dict__["status"]) for r in lines] == [
        (logging.DEBUG, "HIT", 200)
    ]
    assert lines[0].__dict__["client"] is None  # installs are not tracked
    assert wire.express == [False, True]
    assert hit.header("x-request-id")


async def test_the_lane_stays_out_of_everything_but_update_checks(wire: Wire) -> None:
    (health,) = await wire.ask(get("/healthz"))
    async with httpx.AsyncClient() as client:
        graphql = await client.post(f"http://127.0.0.1:{wire.port}/graphql", json={})

    assert health.status == 200
    assert health.header("cf-cache-status") == "DYNAMIC"
    assert graphql.status_code == 400
    assert wire.express == [False, False]


# With the edge cache off: the origin's answer, worked out in the lane.


@pytest.mark.usefixtures("released")
@pytest.mark.parametrize(
    ("path", "status"),
    [
        (CHECK, 200),
        ("/lane/update/linux/x86_64/1.2.0", 204),  # no update
        ("/lane/update/linux/x86_64/1.0.0?channel=zzz", 400),  # no such channel
    ],
    ids=["update", "no-update", "unknown-channel"],
)
async def test_without_the_edge_the_lane_answers_as_the_origin_does(
    uncached: Wire, path: str, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    (cold,) = await uncached.ask(get(path))  # builds the app's index through ASGI
    caplog.set_level(logging.DEBUG, logger="ferryman.access")
    (lane,) = await uncached.ask(get(path))
    logged = [r.levelno for r in caplog.records if r.name == "ferryman.access"]
    # A browser's request carries Origin: it goes through ASGI (and CORS, when configured).
    (through_asgi,) = await uncached.ask(get(path, "Origin: https://example.test"))

    assert uncached.express == [False, True, False]
    assert lane.status == status
    assert lane.comparable == through_asgi.comparable == cold.comparable
    assert lane.header("cf-cache-status") is None
    assert lane.header("x-ferryman-offer") is None
    assert lane.header("cloudflare-cdn-cache-control") is not None  # for the CDN in front
    # An answer from memory is logged at DEBUG (and summed up); an error keeps its INFO line.
    assert logged == [logging.INFO if status >= 400 else logging.DEBUG]


@pytest.mark.usefixtures("released")
async def test_without_the_edge_the_lane_spends_the_update_budget(
    uncached: Wire, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="ferryman.access")
    ids = RequestIds()
    logging.getLogger("ferryman.access").addHandler(ids)

    try:
        answers = await uncached.ask(*[get()] * 6)
    finally:
        logging.getLogger("ferryman.access").removeHandler(ids)

    assert [a.status for a in answers] == [200] * 5 + [429]
    assert uncached.express == [False, True, True, True, True, False]
    assert answers[-1].header("retry-after")
    lines = [r for r in caplog.records if r.name == "ferryman.access"]
    # The cold first check at INFO, the lane's answers from memory at DEBUG, the refusal at
    # INFO (in the order they were logged: see below).
    assert sorted((r.levelno, r.__dict__["status"]) for r in lines) == [
        *[(logging.DEBUG, 200)] * 4,
        (logging.INFO, 200),
        (logging.INFO, 429),
    ]
    # The lane answered the pipelined checks as the first one's answer went out, before
    # its line was logged: the same ids, in another order.
    assert sorted(map(str, ids.seen)) == sorted(a.header("x-request-id") or "" for a in answers)


# Checks the edge keys on what the install may not have: judged in the lane too.


async def test_a_licensed_hit_takes_the_lane_once_its_licence_was_looked_up(
    wire: Wire,
) -> None:
    now = datetime.now(UTC)
    await rows.publish("lane", "1.2.0", ["linux-x86_64"])
    key, _ = await licences.new_license(await licences.licensed_app("lane"), now)
    licence = f"X-License-Key: {key}"

    miss, hit = await wire.ask(get(CHECK, licence), get(CHECK, licence))
    (through_asgi,) = await wire.ask(get(CHECK, licence, 'If-None-Match: "another"'))
    (unlicensed,) = await wire.ask(get())
    (stranger,) = await wire.ask(get(CHECK, "X-License-Key: lk_" + "x" * 40))

    assert (miss.header("cf-cache-status"), hit.header("cf-cache-status")) == ("MISS", "HIT")
    assert hit.comparable == through_asgi.comparable
    assert b"/dl/" in hit.body  # a licensed answer links through Ferryman
    assert (unlicensed.status, stranger.status) == (401, 401)
    assert wire.express == [False, True, False, False, False]


async def test_a_partial_rollout_hit_takes_the_lane_keyed_on_the_install(wire: Wire) -> None:
    await rows.publish("lane", "1.2.0", ["linux-x86_64"])
    newest = await rows.publish("lane", "1.3.0", ["linux-x86_64"])
    await rollout(Actor.console(), newest, 50)
    installs = [f"X-Install-Id: {uuid.UUID(int=n)}" for n in range(40)]

    first = await wire.ask(*[get(CHECK, install) for install in installs])
    again = await wire.ask(*[get(CHECK, install) for install in installs])

    offered = [b'"version":"1.3.0"' in answer.body for answer in first]
    assert 0 < sum(offered) < len(installs)  # both sides of the rollout are asked
    assert [b'"version":"1.3.0"' in answer.body for answer in again] == offered
    assert {answer.header("cf-cache-status") for answer in again} == {"HIT"}
    assert wire.express[len(installs) :] == [True] * len(installs)
