"""The whole path over real HTTP: uvicorn on a free port, SeaweedFS, a Tauri-signed file.

An admin publishes through GraphQL; then the check is made and the answer read exactly
as the Tauri client reads it, the file downloaded from its url, and its signature
verified against the app's key — what an installed app does before it installs.
"""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import httpx

from ferryman.signatures import PublicKey, Signature, Verifier

DATA = Path(__file__).parent / "data" / "tauri"
FILE = "MyApp_1.2.3_amd64.AppImage"


def graphql(server: tuple[str, str], query: str, variables: dict[str, Any]) -> dict[str, Any]:
    base, key = server
    response = httpx.post(
        f"{base}/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {key}"},
    )
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    data: dict[str, Any] = next(iter(body["data"].values()))
    assert data.get("userErrors", []) == [], data
    return data


def draft_with_artifact(server: tuple[str, str], slug: str = "my-app") -> str:
    """A draft 1.2.3 of a new app with its Linux AppImage uploaded and confirmed; its id."""
    app = graphql(
        server,
        "mutation($i: AppCreateInput!) { appCreate(input: $i) { app { id } "
        "userErrors { message } } }",
        {"i": {"slug": slug, "name": "My App", "publicKey": (DATA / "app.pub").read_text()}},
    )["app"]
    release = graphql(
        server,
        "mutation($a: ID!) { releaseCreate(appId: $a, input: "
        '{version: "1.2.3", notes: "Faster"}) { release { id } '
        "userErrors { message } } }",
        {"a": app["id"]},
    )["release"]
    created = graphql(
        server,
        "mutation($r: ID!, $i: ArtifactUploadCreateInput!) { artifactUploadCreate(releaseId: $r, "
        "input: $i) { artifact { id } uploadUrl uploadHeaders { name value } "
        "userErrors { message } } }",
        {
            "r": release["id"],
            "i": {
                "platform": "linux-x86_64",
                "filename": FILE,
                "signature": (DATA / f"{FILE}.sig").read_text(),
                "fileSize": (DATA / FILE).stat().st_size,
            },
        },
    )
    headers = {h["name"]: h["value"] for h in created["uploadHeaders"]}
    assert (
        httpx.put(
            created["uploadUrl"], content=(DATA / FILE).read_bytes(), headers=headers
        ).status_code
        == 200
    )
    confirmed = graphql(
        server,
        "mutation($id: ID!) { artifactUploadConfirm(id: $id) { "
        "artifact { status } userErrors { message } } }",
        {"id": created["artifact"]["id"]},
    )
    assert confirmed["artifact"]["status"] == "READY"
    release_id: str = release["id"]
    return release_id


def publish(server: tuple[str, str], release_id: str) -> None:
    graphql(
        server,
        "mutation($id: ID!) { releasePublish(id: $id) { release { status } "
        "userErrors { message } } }",
        {"id": release_id},
    )


def test_publish_check_download_and_verify_like_the_updater(live_server: tuple[str, str]) -> None:
    server = live_server
    base = server[0]
    release_id = draft_with_artifact(server)
    check = f"{base}/my-app/update/linux/x86_64/1.0.0"
    assert httpx.get(check).status_code == 204  # cached at the edge before the publish
    publish(server, release_id)

    # The very next check sees the release (the publish purged the edge).
    answer = httpx.get(
        check, headers={"User-Agent": "tauri-plugin-updater/2.13.1", "Accept": "application/json"}
    )
    assert answer.status_code == 200
    assert answer.headers["cf-cache-status"] in ("MISS", "EXPIRED")
    manifest = json.loads(answer.content)
    assert manifest["version"] == "1.2.3"
    assert manifest["notes"] == "Faster"
    assert manifest["url"].startswith(f"{base}/dl/app_")  # the app by its id, not its slug
    assert manifest["url"].endswith("/1.2.3/linux-x86_64")
    # The watcher may purge once more within its first second (it sees the publish too).
    for _ in range(30):
        again = httpx.get(check)
        if again.headers["cf-cache-status"] == "HIT":
            break
        time.sleep(0.1)
    assert again.headers["cf-cache-status"] == "HIT"
    assert again.content == answer.content

    # Download as the client does (redirects followed), then verify before "installing".
    download = httpx.get(manifest["url"], follow_redirects=True)
    assert download.status_code == 200
    assert download.content == (DATA / FILE).read_bytes()
    base64.b64decode(manifest["signature"], validate=True)  # strict, as the client decodes
    signature = Signature.parse(manifest["signature"])
    assert signature.version == manifest["version"]
    verifier = Verifier(signature)
    verifier.update(download.content)
    verifier.verify(PublicKey.parse((DATA / "app.pub").read_text()))

    # Archiving takes it off the update path at once.
    graphql(
        server,
        "mutation($id: ID!) { releaseArchive(id: $id) { release { status } "
        "userErrors { message } } }",
        {"id": release_id},
    )
    after = httpx.get(check)
    assert after.status_code == 204
    assert after.content == b""
