"""The whole path over real HTTP: uvicorn on a free port, SeaweedFS, a Tauri-signed file.

An admin publishes through GraphQL; then the check is made and the answer read exactly
as the Tauri client reads it, the file downloaded from its url, and its signature
verified against the app's key — what an installed app does before it installs.
"""

from __future__ import annotations

import base64
import json
import time

import httpx

from ferryman.signatures import PublicKey, Signature, Verifier
from tests.support.live_server import archive, draft_with_artifact, publish
from tests.support.tauri_files import APP_PUB, APPIMAGE, data


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
    assert download.content == data(APPIMAGE)
    base64.b64decode(manifest["signature"], validate=True)  # strict, as the client decodes
    signature = Signature.parse(manifest["signature"])
    assert signature.version == manifest["version"]
    verifier = Verifier(signature)
    verifier.update(download.content)
    verifier.verify(PublicKey.parse(APP_PUB))

    # Archiving takes it off the update path at once.
    archive(server, release_id)
    after = httpx.get(check)
    assert after.status_code == 204
    assert after.content == b""
