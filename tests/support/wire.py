"""ASGI scopes of update checks as the front layer hands them to the recorder
(:mod:`ferryman.front`): for driving :meth:`Recorder.checked` directly, many times over,
without an HTTP round trip per check."""

from __future__ import annotations

from typing import Any

from ferryman.analytics.recorder import INSTALL_ID, LAST_CHECK, USER_AGENT

UPDATER_AGENT = "tauri-updater/2.0.0"


def check_path(slug: str, target: str, arch: str, current: str) -> str:
    """The recommended updater URL's path, ``/{slug}/update/{target}/{arch}/{current}``."""
    return f"/{slug}/update/{target}/{arch}/{current}"


def check_scope(
    slug: str,
    target: str,
    arch: str,
    current: str,
    *,
    client_ip: str = "192.0.2.1",
    user_agent: str | None = UPDATER_AGENT,
    install_id: str | None = None,
    last_check: str | None = None,
    query: bytes = b"",
) -> dict[str, Any]:
    """The scope of one update check once the front layer has read who asked: its path as
    sent, its headers, and ``state`` with the request id and the client's address."""
    path = check_path(slug, target, arch, current)
    headers = [(b"host", b"ferryman.test")]
    if user_agent is not None:
        headers.append((USER_AGENT, user_agent.encode()))
    if install_id is not None:
        headers.append((INSTALL_ID, install_id.encode()))
    if last_check is not None:
        headers.append((LAST_CHECK, last_check.encode()))
    return {
        "type": "http",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "headers": headers,
        "client": (client_ip, 50000),
        "state": {"request_id": "0" * 26, "client_ip": client_ip},
    }
