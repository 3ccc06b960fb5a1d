"""A fleet of installs asking the real update route: stable install ids, and what each is
offered, for tests of who a staged rollout reaches; and installs that download what they
are offered through ``/dl``, for tests of a rollout's health."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

import httpx

NAMESPACE = uuid.UUID("6f1c1d2e-5b7a-4c3e-9f3a-0d4b8e2a7c11")
BATCH = 500


def install_id(i: int) -> str:
    return str(uuid.uuid5(NAMESPACE, str(i)))


def ids(count: int, start: int = 0) -> list[str]:
    return [install_id(i) for i in range(start, start + count)]


async def check(
    client: httpx.AsyncClient,
    install: str | None,
    current: str = "0.9.0",
    channel: str | None = None,
    slug: str = "my-app",
    target: str = "linux/x86_64",
) -> httpx.Response:
    headers = {"X-Install-Id": install} if install is not None else {}
    query = f"?channel={channel}" if channel else ""
    return await client.get(f"/{slug}/update/{target}/{current}{query}", headers=headers)


def version_of(response: httpx.Response) -> str | None:
    if response.status_code == 204:
        return None
    assert response.status_code == 200, response.text
    version: str = response.json()["version"]
    return version


async def offered(
    client: httpx.AsyncClient,
    install: str | None,
    current: str = "0.9.0",
    channel: str | None = None,
    slug: str = "my-app",
) -> str | None:
    return version_of(await check(client, install, current, channel, slug))


async def offered_to(
    client: httpx.AsyncClient,
    installs: list[str],
    channel: str | None = None,
    slug: str = "my-app",
) -> dict[str, str | None]:
    """What each install is offered, checked ``BATCH`` at a time."""
    return await in_batches(installs, lambda i: offered(client, i, channel=channel, slug=slug))


async def in_batches(
    installs: list[str], each: Callable[[str], Awaitable[str | None]]
) -> dict[str, str | None]:
    """``each`` install's answer, ``BATCH`` installs at a time."""
    answers: dict[str, str | None] = {}
    for start in range(0, len(installs), BATCH):
        batch = installs[start : start + BATCH]
        answers.update(zip(batch, await asyncio.gather(*map(each, batch)), strict=True))
    return answers


async def _download(
    client: httpx.AsyncClient, install: str, current: str, target: str, slug: str
) -> str | None:
    answer = await check(client, install, current, slug=slug, target=target)
    version = version_of(answer)
    if version is not None:
        fetched = await client.get(
            httpx.URL(answer.json()["url"]).path, headers={"X-Install-Id": install}
        )
        assert fetched.status_code == 302, fetched.text
    return version


async def download_offered(
    client: httpx.AsyncClient,
    installs: list[str],
    current: str,
    target: str = "linux/x86_64",
    slug: str = "my-app",
) -> dict[str, str | None]:
    """Each install checks on ``current`` and downloads what it is offered through the
    real ``/dl`` route, ``BATCH`` at a time; what each was offered."""
    return await in_batches(installs, lambda i: _download(client, i, current, target, slug))


async def check_in(
    client: httpx.AsyncClient,
    installs: list[str],
    current: str,
    target: str = "linux/x86_64",
    slug: str = "my-app",
) -> dict[str, str | None]:
    """Each install checks on ``current`` (and downloads nothing); what each was offered."""
    return await in_batches(installs, lambda i: offered_on(client, i, current, target, slug))


async def offered_on(
    client: httpx.AsyncClient, install: str, current: str, target: str, slug: str = "my-app"
) -> str | None:
    return version_of(await check(client, install, current, slug=slug, target=target))
