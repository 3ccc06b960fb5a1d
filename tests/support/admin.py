"""The seed's admin REST API (``/admin/apps...``): its requests, its own examples, and a
workbench that ships releases through it with a key of its own signing."""

from __future__ import annotations

import dataclasses
from typing import Any

import httpx

from tests.signing import Signer

# The seed's request bodies, as its specification gives them ("Admin Endpoints"); its
# public key and signatures are placeholders ("dW50cnVzdGVkIGNvbW1lbnQ6..."), which the
# tests replace with real ones where a real one is needed.
PLACEHOLDER = "dW50cnVzdGVkIGNvbW1lbnQ6..."
SEED_APP = {
    "slug": "my-new-app",
    "name": "My New App",
    "description": "Another cool app",
    "public_key": PLACEHOLDER,
}
SEED_RELEASE = {"version": "1.2.0", "notes": "### What's New\n\n- Feature X\n- Bug fix Y"}
SEED_RELEASE_UPDATE = {"notes": "Updated release notes...", "status": "draft"}
SEED_PRESIGN = {
    "platform": "darwin-aarch64",
    "filename": "app-1.2.0-darwin-aarch64.tar.gz",
    "signature": PLACEHOLDER,
}

# The seed's answers: each key its example shows, and the JSON type of its value there
# (None where the example has null or the value may be null).
SEED_APP_ENTRY = {
    "id": str,
    "slug": str,
    "name": str,
    "description": str,
    "release_count": int,
    "latest_version": str,
    "created_at": str,
}
SEED_RELEASE_ENTRY = {
    "id": str,
    "version": str,
    "status": str,
    "notes": str,
    "pub_date": str,
    "artifacts": list,
    "created_at": str,
}
SEED_RELEASE_ARTIFACT = {"platform": str, "file_size": int}
SEED_CREATED_RELEASE = {
    "id": str,
    "app_id": str,
    "version": str,
    "status": str,
    "notes": str,
    "created_at": str,
}
SEED_PRESIGNED = {"artifact_id": str, "upload_url": str, "expires_in": int}
SEED_PUBLISHED = {"id": str, "version": str, "status": str, "pub_date": str}


def seed_shaped(answer: dict[str, Any], seed: dict[str, type]) -> None:
    """Every key of the seed's example is in ``answer``, with a value of its type."""
    missing = sorted(set(seed) - set(answer))
    assert not missing, f"{missing} missing from {answer}"
    for key, kind in seed.items():
        assert isinstance(answer[key], kind), f"{key}: {answer[key]!r} is not {kind.__name__}"
        assert kind is not int or not isinstance(answer[key], bool), key


async def call(
    client: httpx.AsyncClient,
    method: str,
    path: str,
    key: str | None,
    body: Any = None,
    **options: Any,
) -> httpx.Response:
    """One request to the API: ``body`` is sent as JSON, or as it is when it is bytes."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    if isinstance(body, bytes):
        options["content"] = body
        headers["Content-Type"] = "application/json"
    elif body is not None:
        options["json"] = body
    return await client.request(method, path, headers=headers, **options)


async def put(presigned: dict[str, Any], content: bytes) -> None:
    """PUT the bytes where a presign answer says, from outside Ferryman, as a client does."""
    async with httpx.AsyncClient() as outside:
        stored = await outside.put(
            presigned["upload_url"], content=content, headers=presigned["upload_headers"]
        )
    assert stored.status_code == 200, stored.text


def ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    """The JSON answer of a request that must have succeeded with ``status``."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    answer: dict[str, Any] = response.json()
    return answer


def refusal(response: httpx.Response, status: int, code: str) -> str:
    """The message of a refusal with this status and code, in the REST error shape."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message"}, body
    assert body["error"]["code"] == code, body
    message: str = body["error"]["message"]
    assert message.strip(), body
    return message


@dataclasses.dataclass
class Bench:
    """An app made through the API with a fresh Tauri key, and the key that made it."""

    client: httpx.AsyncClient
    key: str
    app_id: str
    slug: str
    signer: Signer

    @classmethod
    async def open(cls, client: httpx.AsyncClient, key: str, slug: str = "my-app") -> Bench:
        signer = Signer()
        body = {"slug": slug, "name": slug, "public_key": signer.public_key}
        created = ok(await call(client, "POST", "/admin/apps", key, body), 201)
        return cls(client, key, created["id"], slug, signer)

    @property
    def releases(self) -> str:
        return f"/admin/apps/{self.app_id}/releases"

    def release(self, release_id: str) -> str:
        return f"{self.releases}/{release_id}"

    async def draft(self, version: str = "1.2.0", **fields: Any) -> dict[str, Any]:
        body = {"version": version, **fields}
        return ok(await call(self.client, "POST", self.releases, self.key, body), 201)

    def file(self, version: str, platform: str) -> tuple[str, bytes, str]:
        """A file of the platform and its signature, which names ``version``."""
        name = f"app-{version}-{platform}.bin"
        content = f"{platform} build of {version}\n".encode()
        return name, content, self.signer.sign(content, name, version)

    async def upload(
        self, release_id: str, version: str, platform: str, *, key: str | None = None
    ) -> httpx.Response:
        """The seed's direct upload of the platform's file (multipart)."""
        name, content, signature = self.file(version, platform)
        return await call(
            self.client,
            "POST",
            f"{self.release(release_id)}/artifacts",
            key or self.key,
            data={"platform": platform, "signature": signature},
            files={"file": (name, content, "application/octet-stream")},
        )

    async def published(self, version: str, platforms: tuple[str, ...]) -> dict[str, Any]:
        """A release with a verified file per platform, published."""
        release_id = (await self.draft(version))["id"]
        for platform in platforms:
            ok(await self.upload(release_id, version, platform), 201)
        return ok(await call(self.client, "POST", f"{self.release(release_id)}/publish", self.key))
