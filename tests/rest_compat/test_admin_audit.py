"""The admin REST API's audit trail: the same story told through it and through GraphQL
leaves the same events, under the key and the request that made each change."""

from __future__ import annotations

from typing import Any

import httpx

from ferryman.models import AuditEvent
from tests.conftest import GraphQL
from tests.signing import Signer
from tests.support.admin import call, put
from tests.support.api import payload_of
from tests.support.database import key_row
from tests.support.documents import (
    APP_CREATE,
    APP_DELETE,
    APP_UPDATE,
    ARTIFACT_DELETE,
    ARTIFACT_UPLOAD_CONFIRM,
    ARTIFACT_UPLOAD_CREATE,
    RELEASE_ARCHIVE,
    RELEASE_CREATE,
    RELEASE_DELETE,
    RELEASE_UPDATE,
    operation,
)
from tests.support.uploads import multipart

MAC = "darwin-aarch64"
LINUX = "linux-x86_64"
NAME = "app-1.2.0.bin"
CONTENT = b"one file for both doors\n"
STORY = [
    "app.create",
    "app.update",
    "release.create",
    "release.update",
    "artifact.upload",  # presigned: begun,
    "artifact.confirm",  # then confirmed
    "artifact.upload",  # direct: stored and checked at once
    "artifact.confirm",
    "artifact.delete",
    "release.publish",
    "release.archive",
    "release.create",
    "release.delete",
    "app.delete",
]


class Rest:
    """Requests to the API with one key, each answer kept."""

    def __init__(self, client: httpx.AsyncClient, key: str) -> None:
        self.client = client
        self.key = key
        self.answers: list[httpx.Response] = []

    async def __call__(self, method: str, path: str, body: Any = None, **options: Any) -> Any:
        answer = await call(self.client, method, path, self.key, body, **options)
        assert answer.status_code < 300, answer.text
        self.answers.append(answer)
        return answer.json() if answer.content else None


class Gql:
    """Mutations with one key, each asserted to have succeeded."""

    def __init__(self, gql: GraphQL, key: str) -> None:
        self.gql = gql
        self.key = key

    async def __call__(self, document: str, field: str, **variables: Any) -> dict[str, Any]:
        payload = payload_of(await self.gql(document, variables, key=self.key), field)
        assert payload["userErrors"] == [], payload
        return payload


async def told_through_rest(rest: Rest, signer: Signer, signature: str) -> str:
    body = {"slug": "rest", "name": "R", "public_key": signer.public_key}
    apps = f"/admin/apps/{(await rest('POST', '/admin/apps', body))['id']}"
    await rest("PATCH", apps, {"name": "Renamed"})
    release = (
        f"{apps}/releases/{(await rest('POST', f'{apps}/releases', {'version': '1.2.0'}))['id']}"
    )
    await rest("PATCH", release, {"notes": "Notes"})
    sized = {"platform": MAC, "filename": NAME, "signature": signature, "file_size": len(CONTENT)}
    presigned = await rest("POST", f"{release}/artifacts/presign", sized)
    await put(presigned, CONTENT)
    await rest("POST", f"{release}/artifacts/{presigned['artifact_id']}/confirm")
    direct = await rest(
        "POST",
        f"{release}/artifacts",
        data={"platform": LINUX, "signature": signature},
        files={"file": (NAME, CONTENT)},
    )
    await rest("DELETE", f"{release}/artifacts/{direct['id']}")
    await rest("POST", f"{release}/publish")
    await rest("POST", f"{release}/archive")
    doomed = await rest("POST", f"{apps}/releases", {"version": "2.0.0"})
    await rest("DELETE", f"{apps}/releases/{doomed['id']}")
    await rest("DELETE", apps)
    return apps.rsplit("/", 1)[1]


async def told_through_graphql(
    gql: Gql, client: httpx.AsyncClient, signer: Signer, signature: str
) -> str:
    app = {"slug": "gql", "name": "R", "publicKey": signer.public_key}
    app_id = (await gql(APP_CREATE, "appCreate", input=app))["app"]["id"]
    await gql(APP_UPDATE, "appUpdate", id=app_id, input={"name": "Renamed"})
    created = await gql(RELEASE_CREATE, "releaseCreate", appId=app_id, input={"version": "1.2.0"})
    release_id = created["release"]["id"]
    await gql(RELEASE_UPDATE, "releaseUpdate", id=release_id, input={"notes": "Notes"})
    upload = {"platform": MAC, "filename": NAME, "signature": signature, "fileSize": len(CONTENT)}
    begun = await gql(
        ARTIFACT_UPLOAD_CREATE, "artifactUploadCreate", releaseId=release_id, input=upload
    )
    headers = {h["name"]: h["value"] for h in begun["uploadHeaders"]}
    await put({"upload_url": begun["uploadUrl"], "upload_headers": headers}, CONTENT)
    await gql(ARTIFACT_UPLOAD_CONFIRM, "artifactUploadConfirm", id=begun["artifact"]["id"])
    direct = await multipart(
        client, gql.key, release_id, NAME, platform=LINUX, signature=signature, body=CONTENT
    )
    direct_id = payload_of(direct.json(), "artifactUpload")["artifact"]["id"]
    await gql(ARTIFACT_DELETE, "artifactDelete", id=direct_id)
    await gql(operation("ReleasePublish"), "releasePublish", id=release_id)
    await gql(RELEASE_ARCHIVE, "releaseArchive", id=release_id)
    doomed = await gql(RELEASE_CREATE, "releaseCreate", appId=app_id, input={"version": "2.0.0"})
    await gql(RELEASE_DELETE, "releaseDelete", id=doomed["release"]["id"])
    await gql(APP_DELETE, "appDelete", id=app_id)
    return str(app_id)


async def trail(app_id: str, slug: str) -> list[tuple[str, str | None, str]]:
    """The app's events: action, key and summary (its slug written SLUG)."""
    events = await AuditEvent.filter(app_id=app_id).order_by("id")
    return [(e.action, e.key_id, e.summary.replace(slug, "SLUG")) for e in events]


async def test_both_doors_leave_the_same_trail(
    client: httpx.AsyncClient, admin_key: str, gql: GraphQL
) -> None:
    signer = Signer()
    signature = signer.sign(CONTENT, NAME, "1.2.0")
    rest = Rest(client, admin_key)

    through_rest = await told_through_rest(rest, signer, signature)
    through_graphql = await told_through_graphql(Gql(gql, admin_key), client, signer, signature)

    told = await trail(through_rest, "rest")
    assert told == await trail(through_graphql, "gql")
    assert [action for action, _, _ in told] == STORY
    assert {key for _, key, _ in told} == {(await key_row(admin_key)).id}
    # Each event names the request that made it.
    requests = [answer.headers["x-request-id"] for answer in rest.answers]
    events = await AuditEvent.filter(app_id=through_rest).order_by("id")
    assert {event.request_id for event in events} <= set(requests)
    assert [event.request_id for event in events][:2] == requests[:2]
