"""Set-up over real HTTP, against ``ferryman serve`` on a free port (conftest's
``live_server``: a base URL and an admin key): what CI and an admin's browser send."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.documents import APP_CREATE, RELEASE_ARCHIVE, operation
from tests.support.tauri_files import APP_PUB, APPIMAGE, DATA, text

Server = tuple[str, str]  # base URL, admin key


def graphql(server: Server, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    """The data of the answer's one field, asserting no errors of either kind."""
    base, key = server
    response = httpx.post(
        f"{base}/graphql",
        json={"query": query, "variables": variables or {}},
        headers={"Authorization": f"Bearer {key}"},
    )
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    data: dict[str, Any] = next(iter(body["data"].values()))
    assert data.get("userErrors", []) == [], data
    return data


def create_app(server: Server, slug: str = "my-app") -> str:
    """An app whose updater key is the committed app.pub; returns its id."""
    variables = {"input": {"slug": slug, "name": "My App", "publicKey": APP_PUB}}
    app_id: str = graphql(server, APP_CREATE, variables)["app"]["id"]
    return app_id


def draft_with_artifact(server: Server, slug: str = "my-app") -> str:
    """A draft 1.2.3 of a new app with its Linux AppImage uploaded and confirmed (READY);
    returns the release id."""
    return ready_draft(server, create_app(server, slug))


def ready_draft(
    server: Server,
    app_id: str,
    version: str = "1.2.3",
    *,
    platform: str = "linux-x86_64",
    filename: str = APPIMAGE,
) -> str:
    """A draft of the app with one committed file uploaded to the presigned URL and
    confirmed (READY): ready to publish. Returns the release id."""
    draft = {"appId": app_id, "input": {"version": version, "notes": "Faster"}}
    release_id: str = graphql(server, operation("ReleaseCreate"), draft)["release"]["id"]
    upload = {
        "platform": platform,
        "filename": filename,
        "signature": text(f"{filename}.sig"),
        "fileSize": (DATA / filename).stat().st_size,
    }
    created = graphql(
        server, operation("ArtifactUploadCreate"), {"releaseId": release_id, "input": upload}
    )
    headers = {h["name"]: h["value"] for h in created["uploadHeaders"]}
    put = httpx.put(created["uploadUrl"], content=(DATA / filename).read_bytes(), headers=headers)
    assert put.status_code == 200, put.text
    artifact_id = created["artifact"]["id"]
    confirmed = graphql(server, operation("ArtifactUploadConfirm"), {"id": artifact_id})
    assert confirmed["artifact"]["status"] == "READY", confirmed
    return release_id


def publish(server: Server, release_id: str) -> None:
    graphql(server, operation("ReleasePublish"), {"id": release_id})


def archive(server: Server, release_id: str) -> None:
    graphql(server, RELEASE_ARCHIVE, {"id": release_id})
