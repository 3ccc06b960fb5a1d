"""The seed's CI route (``POST /ci/apps/{slug}/releases``): its body and the request."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.support.tauri_files import APPIMAGE, TARBALL, text


def body(**changes: Any) -> dict[str, Any]:
    """A submission of 1.2.3 with the committed AppImage and tarball, which the tests put
    under these r2_keys; ``changes`` replace its fields."""
    seed = {
        "version": "1.2.3",
        "notes": "What's new",
        "artifacts": [
            {
                "platform": "linux-x86_64",
                "signature": text(f"{APPIMAGE}.sig"),
                "r2_key": f"my-app/releases/1.2.3/{APPIMAGE}",
            },
            {
                "platform": "darwin-aarch64",
                "signature": text(f"{TARBALL}.sig"),
                "r2_key": f"my-app/releases/1.2.3/{TARBALL}",
            },
        ],
        "auto_publish": False,
    }
    return {**seed, **changes}


async def post(
    client: httpx.AsyncClient, key: str | None, payload: Any, slug: str = "my-app"
) -> httpx.Response:
    """POST ``payload`` (JSON, or bytes as they are) to the route as CI does."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    content = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return await client.post(
        f"/ci/apps/{slug}/releases",
        content=content,
        headers={**headers, "Content-Type": "application/json"},
    )
