"""Releases shipped the way CI ships them, and installs that update the way Tauri apps do.

A :class:`Shipyard` creates an app with a fresh updater key, uploads every platform's file
through ``artifactUpload`` (the server reads it back and verifies its signature) and
publishes through GraphQL. An :class:`Install` asks the real update route and judges the
answer with :mod:`tests.tauri_client`, then downloads through ``/dl`` and the presigned
redirect to the real bucket, and verifies the bytes as the client does; :func:`client_parse`
reads an answer's JSON after checking that the client takes it. Tests of what an updater
is offered ship their releases here (conftest's ``yard`` is my-app's Shipyard).
"""

from __future__ import annotations

import dataclasses
import json
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from tests import tauri_client
from tests.signing import Signer
from tests.support.api import payload_of
from tests.support.documents import APP_CREATE, ARTIFACT_UPLOAD, RELEASE_ARCHIVE, operation

if TYPE_CHECKING:
    from tests.conftest import GraphQL

RFC3339_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


@dataclasses.dataclass
class Shipyard:
    """One app, its signing key, and the admin key that ships its releases."""

    client: httpx.AsyncClient
    gql: GraphQL
    key: str
    slug: str
    app_id: str
    signer: Signer

    @classmethod
    async def open(
        cls, client: httpx.AsyncClient, gql: GraphQL, key: str, slug: str = "my-app", **app: Any
    ) -> Shipyard:
        signer = Signer()
        variables = {"input": {"slug": slug, "name": slug, "publicKey": signer.public_key, **app}}
        created = payload_of(await gql(APP_CREATE, variables, key=key), "appCreate")
        assert created["userErrors"] == [], created
        return cls(client, gql, key, slug, created["app"]["id"], signer)

    @staticmethod
    def body(version: str, platform: str) -> bytes:
        """The file of one platform of one version: distinct, so a wrong one is noticed."""
        return f"{platform} build of {version}\n".encode()

    async def draft(self, version: str, **fields: Any) -> str:
        variables = {"appId": self.app_id, "input": {"version": version, **fields}}
        created = payload_of(
            await self.gql(operation("ReleaseCreate"), variables, key=self.key), "releaseCreate"
        )
        assert created["userErrors"] == [], created
        release_id: str = created["release"]["id"]
        return release_id

    async def upload(
        self,
        release_id: str,
        version: str,
        platform: str,
        *,
        signature: str | None = None,
        signed_version: str | None = "",
        filename: str | None = None,
    ) -> dict[str, Any]:
        """artifactUpload of the platform's file; returns the payload. The signature names
        ``version`` unless ``signed_version`` says otherwise (None: no version at all)."""
        name = filename or f"app_{version}_{platform}.bin"
        body = self.body(version, platform)
        if signature is None:
            named = version if signed_version == "" else signed_version
            signature = self.signer.sign(body, name, named)
        operations = {
            "query": ARTIFACT_UPLOAD,
            "variables": {
                "releaseId": release_id,
                "platform": platform,
                "signature": signature,
                "file": None,
            },
        }
        response = await self.client.post(
            "/graphql",
            data={
                "operations": json.dumps(operations),
                "map": json.dumps({"0": ["variables.file"]}),
            },
            files={"0": (name, body, "application/octet-stream")},
            headers={"Authorization": f"Bearer {self.key}"},
        )
        assert response.status_code == 200, response.text
        return payload_of(response.json(), "artifactUpload")

    async def publish(self, release_id: str) -> dict[str, Any]:
        return payload_of(
            await self.gql(operation("ReleasePublish"), {"id": release_id}, key=self.key),
            "releasePublish",
        )

    async def release(
        self,
        version: str,
        platforms: list[str] | tuple[str, ...],
        *,
        publish: bool = True,
        **fields: Any,
    ) -> str:
        """A release with one verified file per platform, published unless told not to;
        returns its id."""
        release_id = await self.draft(version, **fields)
        for platform in platforms:
            uploaded = await self.upload(release_id, version, platform)
            assert uploaded["userErrors"] == [], uploaded
            assert uploaded["artifact"]["status"] == "READY", uploaded
        if publish:
            published = await self.publish(release_id)
            assert published["userErrors"] == [], published
        return release_id

    async def archive(self, release_id: str) -> str:
        """Take a published release off the update path; returns its id."""
        archived = payload_of(
            await self.gql(RELEASE_ARCHIVE, {"id": release_id}, key=self.key), "releaseArchive"
        )
        assert archived["userErrors"] == [], archived
        return release_id

    def install(
        self, os: str, arch: str, current: str, bundle: str | None = None, plugin: str = "new"
    ) -> Install:
        return Install(self, os, arch, current, bundle, plugin)


@dataclasses.dataclass
class Install:
    """One installed app: its platform, its version, and its updater plugin's rules."""

    yard: Shipyard
    os: str
    arch: str
    current: str
    bundle: str | None = None
    plugin: str = "new"

    def url(self, form: str = "arch") -> str:
        """The check URL its endpoint template produces: ``arch`` is
        ``/{{target}}/{{arch}}/{{current_version}}``, ``target`` the bare-OS
        ``/{{target}}/{{current_version}}`` and ``platform`` ``/{os}-{arch}/{version}``."""
        version = self.current.replace("+", "%2B")
        query = f"?bundle_type={self.bundle}" if self.bundle else ""
        paths = {
            "arch": f"{self.os}/{self.arch}",
            "target": self.os,
            "platform": f"{self.os}-{self.arch}",
        }
        return f"/{self.yard.slug}/update/{paths[form]}/{version}{query}"

    async def check(self, form: str = "arch") -> tauri_client.Update | None:
        """What the client makes of the answer (ClientError when it refuses it)."""
        response = await self.yard.client.get(self.url(form))
        return tauri_client.check(
            response.status_code,
            response.content,
            self.current,
            self.os,
            self.arch,
            self.bundle,
            plugin=self.plugin,
        )

    async def download(self, update: tauri_client.Update) -> bytes:
        """The file behind the update's URL: Ferryman's /dl, then the bucket it points to."""
        parts = urlsplit(update.url)
        response = await self.yard.client.get(f"{parts.path}?{parts.query}".rstrip("?"))
        assert response.status_code == 302, response.text
        async with httpx.AsyncClient() as outside:
            fetched = await outside.get(response.headers["location"])
        assert fetched.status_code == 200, fetched.text
        return fetched.content

    async def update(self, form: str = "arch", *, require_signed_version: bool = False) -> str:
        """Check, download and verify as the client does; the version now running."""
        update = await self.check(form)
        if update is None:
            return self.current
        data = await self.download(update)
        tauri_client.download_and_verify(
            update, data, self.yard.signer.public_key, require_signed_version
        )
        self.current = str(update.version)
        return self.current


def client_parse(response: httpx.Response) -> dict[str, Any] | None:
    """The answer's JSON, after checking that the Tauri client takes it
    (tauri-updater-protocol.md §2.1-2.4); None for 204, no update."""
    if response.status_code == 204:
        assert response.content == b""
        return None
    assert response.status_code == 200, response.text
    tauri_client.parse_manifest(response.content)
    body: dict[str, Any] = json.loads(response.content)
    assert isinstance(body["version"], str)
    if body.get("pub_date") is not None:
        assert RFC3339_Z.fullmatch(body["pub_date"]), body["pub_date"]
    entries = body["platforms"].values() if "platforms" in body else [body]
    for entry in entries:
        tauri_client.decode_signature(entry["signature"])
    return body
