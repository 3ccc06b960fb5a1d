"""Every mutation in the schema writes an audit event: a guard for the next one added.

The mutations are read from the schema the code builds, so a new one is a new case here at
once, and fails until :data:`CALLS` gives it a minimal call that changes something (or
:data:`EXEMPT` says why it changes nothing worth recording). Each call is made as an admin
would make it, and must leave at least one new event of its action, under the caller's key
and the request's id. What the events say is tested in ``test_audit_events``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Awaitable, Callable
from typing import Any

import graphql
import httpx
import pytest

from ferryman.local_s3 import LocalS3
from ferryman.models import Artifact, AuditEvent
from ferryman.models.actor import KeyScope
from ferryman.resolvers.schema import build_schema
from tests.conftest import GraphQL, make_key
from tests.signing import Signer
from tests.support.api import create_app, payload_of
from tests.support.database import key_row
from tests.support.documents import (
    API_KEY_CREATE,
    API_KEY_REVOKE,
    APP_CREATE,
    APP_DELETE,
    APP_UPDATE,
    ARTIFACT_DELETE,
    ARTIFACT_UPLOAD,
    ARTIFACT_UPLOAD_CONFIRM,
    ARTIFACT_UPLOAD_CREATE,
    CI_RELEASE_SUBMIT,
    DELIVERY_REPLAY,
    LICENSE_CREATE,
    LICENSE_REACTIVATE,
    LICENSE_RENEW,
    LICENSE_REVOKE,
    LICENSE_SUSPEND,
    RELEASE_ARCHIVE,
    RELEASE_BRIDGE_SET,
    RELEASE_DELETE,
    RELEASE_HALT_LIFT,
    RELEASE_HEALTH_GATE_REMOVE,
    RELEASE_HEALTH_GATE_SET,
    RELEASE_ROLLBACK,
    RELEASE_ROLLOUT,
    RELEASE_ROLLOUT_PAUSE,
    RELEASE_ROLLOUT_RESUME,
    RELEASE_ROLLOUT_SCHEDULE,
    RELEASE_ROLLOUT_SCHEDULE_CANCEL,
    RELEASE_SET_COVERAGE_DATE,
    RELEASE_YANK,
    SIGNING_KEY_ADD,
    SIGNING_KEY_RETIRE,
    WEBHOOK_CREATE,
    WEBHOOK_DELETE,
    WEBHOOK_ROTATE_SECRET,
    WEBHOOK_TEST,
    WEBHOOK_UPDATE,
    operation,
)
from tests.support.health import halt
from tests.support.shipping import Shipyard
from tests.support.uploads import put

LINUX = "linux-x86_64"
GATE = {"maxFailureRate": 0.05, "minSample": 100}
VERSION = "2.0.0"  # what the calls create; 1.0.0 is live before each call


@dataclasses.dataclass
class Scene:
    """my-app with 1.0.0 live (shipped through the real upload path), and the bucket."""

    gql: GraphQL
    key: str
    yard: Shipyard
    s3: LocalS3
    bucket: str

    @property
    def app_id(self) -> str:
        return self.yard.app_id

    async def draft(self) -> str:
        return await self.yard.draft(VERSION)

    async def verified_draft(self) -> str:
        """A draft of VERSION with its Linux file uploaded and verified."""
        return await self.yard.release(VERSION, [LINUX], publish=False)

    async def published(self) -> str:
        return await self.yard.release(VERSION, [LINUX])

    def signed_file(self) -> tuple[str, bytes, str]:
        """A file of VERSION for Linux: its name, its bytes and its signature."""
        name = f"app_{VERSION}_amd64.AppImage"
        body = Shipyard.body(VERSION, LINUX)
        return name, body, self.yard.signer.sign(body, name, VERSION)

    async def mutate(self, document: str, variables: dict[str, Any], name: str) -> Any:
        payload = payload_of(await self.gql(document, variables, key=self.key), name)
        assert payload["userErrors"] == [], payload
        return payload

    async def webhook(self) -> str:
        """A signed webhook of the app, to a public address."""
        created = {"appId": self.app_id, "kind": "WEBHOOK", "url": "https://93.184.215.14/h"}
        payload = await self.mutate(WEBHOOK_CREATE, {"input": created}, "webhookCreate")
        webhook_id: str = payload["webhook"]["id"]
        return webhook_id

    async def delivery(self) -> str:
        """A test message's delivery to a new webhook."""
        sent = await self.mutate(WEBHOOK_TEST, {"id": await self.webhook()}, "webhookTest")
        delivery_id: str = sent["delivery"]["id"]
        return delivery_id

    async def licence(self) -> str:
        created = {"appId": self.app_id, "customer": "ACME"}
        payload = await self.mutate(LICENSE_CREATE, {"input": created}, "licenseCreate")
        licence_id: str = payload["license"]["id"]
        return licence_id


@dataclasses.dataclass(frozen=True)
class Call:
    """A mutation as sent: its document and variables, and the file of a multipart upload."""

    document: str
    variables: dict[str, Any]
    file: tuple[str, bytes] | None = None


Arrange = Callable[[Scene], Awaitable[Call]]  # sets up what a call needs, and makes it


@dataclasses.dataclass(frozen=True)
class Case:
    arrange: Arrange
    action: str  # the action of the event the call must write


def given(document: str, variables: Callable[[Scene], dict[str, Any]]) -> Arrange:
    """A call that needs nothing but the scene."""

    async def arrange(s: Scene) -> Call:
        return Call(document, variables(s))

    return arrange


def on(make: Callable[[Scene], Awaitable[str]], document: str, **fixed: Any) -> Arrange:
    """A call on something ``make`` creates first (its id goes in as ``id``)."""

    async def arrange(s: Scene) -> Call:
        return Call(document, {"id": await make(s), **fixed})

    return arrange


async def app_delete(s: Scene) -> Call:
    return Call(APP_DELETE, {"id": await create_app(s.gql, s.key, slug="doomed")})


async def release_rollback(s: Scene) -> Call:
    await s.published()
    variables = {"appId": s.app_id, "channel": "stable", "reason": "crashes on start"}
    return Call(RELEASE_ROLLBACK, variables)


async def scheduled(s: Scene) -> str:
    """A published release with the PHASED rollout schedule."""
    release_id = await s.published()
    variables = {"id": release_id, "preset": "PHASED"}
    await s.mutate(RELEASE_ROLLOUT_SCHEDULE, variables, "releaseRolloutSchedule")
    return release_id


async def paused(s: Scene) -> str:
    release_id = await scheduled(s)
    variables = {"id": release_id, "reason": "crash reports"}
    await s.mutate(RELEASE_ROLLOUT_PAUSE, variables, "releaseRolloutPause")
    return release_id


async def next_key(s: Scene) -> str:
    """A key the app will move to (NEXT)."""
    variables = {"appId": s.app_id, "publicKey": Signer().public_key}
    added = await s.mutate(SIGNING_KEY_ADD, variables, "appSigningKeyAdd")
    key_id: str = added["signingKey"]["id"]
    return key_id


async def release_bridge_set(s: Scene) -> Call:
    return Call(RELEASE_BRIDGE_SET, {"id": await s.verified_draft(), "key": await next_key(s)})


async def gated(s: Scene) -> str:
    release_id = await s.published()
    variables = {"id": release_id, "input": GATE}
    await s.mutate(RELEASE_HEALTH_GATE_SET, variables, "releaseHealthGateSet")
    return release_id


async def halted(s: Scene) -> str:
    release_id = await gated(s)
    await halt(release_id, LINUX)
    return release_id


async def artifact_upload_create(s: Scene) -> Call:
    name, body, signature = s.signed_file()
    fields = {"platform": LINUX, "filename": name, "signature": signature, "fileSize": len(body)}
    return Call(ARTIFACT_UPLOAD_CREATE, {"releaseId": await s.draft(), "input": fields})


async def artifact_upload_confirm(s: Scene) -> Call:
    upload = await artifact_upload_create(s)
    created = await s.mutate(upload.document, upload.variables, "artifactUploadCreate")
    sent = await put(created, s.signed_file()[1])
    assert sent.status_code == 200, sent.text
    return Call(ARTIFACT_UPLOAD_CONFIRM, {"id": created["artifact"]["id"]})


async def artifact_upload(s: Scene) -> Call:
    name, body, signature = s.signed_file()
    variables = {"releaseId": await s.draft(), "platform": LINUX, "signature": signature}
    return Call(ARTIFACT_UPLOAD, {**variables, "file": None}, (name, body))


async def artifact_delete(s: Scene) -> Call:
    artifact = await Artifact.get(release_id=await s.verified_draft())
    return Call(ARTIFACT_DELETE, {"id": artifact.id})


async def ci_release_submit(s: Scene) -> Call:
    name, body, signature = s.signed_file()
    r2_key = f"{s.yard.slug}/releases/{VERSION}/{name}"
    s.s3.client.put_object(Bucket=s.bucket, Key=r2_key, Body=body)
    artifact = {"platform": LINUX, "signature": signature, "r2Key": r2_key}
    submission = {"version": VERSION, "artifacts": [artifact]}
    return Call(CI_RELEASE_SUBMIT, {"slug": s.yard.slug, "input": submission})


async def api_key_revoke(s: Scene) -> Call:
    secret = await make_key(KeyScope.CI, s.app_id, name="ci")
    return Call(API_KEY_REVOKE, {"id": (await key_row(secret)).id})


async def licence_reactivate(s: Scene) -> Call:
    licence = await s.licence()
    await s.mutate(LICENSE_SUSPEND, {"id": licence}, "licenseSuspend")
    return Call(LICENSE_REACTIVATE, {"id": licence})


async def webhook_update(s: Scene) -> Call:
    return Call(WEBHOOK_UPDATE, {"input": {"id": await s.webhook(), "enabled": False}})


CASES: dict[str, Case] = {
    "appCreate": Case(
        given(APP_CREATE, lambda s: {"input": {"slug": "new-app", "name": "New"}}), "app.create"
    ),
    "appUpdate": Case(
        given(APP_UPDATE, lambda s: {"id": s.app_id, "input": {"name": "Renamed"}}), "app.update"
    ),
    "appDelete": Case(app_delete, "app.delete"),
    "releaseCreate": Case(
        given(
            operation("ReleaseCreate"), lambda s: {"appId": s.app_id, "input": {"version": VERSION}}
        ),
        "release.create",
    ),
    "releaseUpdate": Case(
        on(Scene.draft, operation("ReleaseUpdate"), input={"notes": "New"}), "release.update"
    ),
    "releaseDelete": Case(on(Scene.draft, RELEASE_DELETE), "release.delete"),
    "releasePublish": Case(
        on(Scene.verified_draft, operation("ReleasePublish")), "release.publish"
    ),
    "releaseArchive": Case(on(Scene.published, RELEASE_ARCHIVE), "release.archive"),
    "releaseSetCoverageDate": Case(
        on(
            Scene.published,
            RELEASE_SET_COVERAGE_DATE,
            coverageDate="2020-01-01T00:00:00Z",
            reason="a fix for lapsed customers",
        ),
        "release.coverage_date",
    ),
    "releaseRollout": Case(on(Scene.published, RELEASE_ROLLOUT, percent=10), "release.rollout"),
    "releaseRolloutSchedule": Case(
        on(Scene.published, RELEASE_ROLLOUT_SCHEDULE, preset="PHASED"),
        "release.rollout_schedule",
    ),
    "releaseRolloutPause": Case(
        on(scheduled, RELEASE_ROLLOUT_PAUSE, reason="crash reports"), "release.rollout_pause"
    ),
    "releaseRolloutResume": Case(on(paused, RELEASE_ROLLOUT_RESUME), "release.rollout_resume"),
    "releaseRolloutScheduleCancel": Case(
        on(scheduled, RELEASE_ROLLOUT_SCHEDULE_CANCEL), "release.rollout_schedule_cancel"
    ),
    "appSigningKeyAdd": Case(
        given(SIGNING_KEY_ADD, lambda s: {"appId": s.app_id, "publicKey": Signer().public_key}),
        "app.signing_key_add",
    ),
    "appSigningKeyRetire": Case(on(next_key, SIGNING_KEY_RETIRE), "app.signing_key_retire"),
    "releaseBridgeSet": Case(release_bridge_set, "release.bridge"),
    "releaseHealthGateSet": Case(
        on(Scene.published, RELEASE_HEALTH_GATE_SET, input=GATE), "release.health_gate_set"
    ),
    "releaseHealthGateRemove": Case(
        on(gated, RELEASE_HEALTH_GATE_REMOVE), "release.health_gate_remove"
    ),
    "releaseHaltLift": Case(
        on(halted, RELEASE_HALT_LIFT, platform=LINUX, reason="fixed"), "release.health_halt_lift"
    ),
    "releaseYank": Case(on(Scene.published, RELEASE_YANK, reason="crashes"), "release.yank"),
    "releaseRollback": Case(release_rollback, "release.rollback"),
    "artifactUploadCreate": Case(artifact_upload_create, "artifact.upload"),
    "artifactUploadConfirm": Case(artifact_upload_confirm, "artifact.confirm"),
    "artifactUpload": Case(artifact_upload, "artifact.upload"),
    "artifactDelete": Case(artifact_delete, "artifact.delete"),
    "ciReleaseSubmit": Case(ci_release_submit, "release.create"),
    "apiKeyCreate": Case(
        given(
            API_KEY_CREATE,
            lambda s: {"input": {"name": "deploy", "scope": "CI", "appId": s.app_id}},
        ),
        "api_key.create",
    ),
    "apiKeyRevoke": Case(api_key_revoke, "api_key.revoke"),
    "licenseCreate": Case(
        given(LICENSE_CREATE, lambda s: {"input": {"appId": s.app_id, "customer": "ACME"}}),
        "license.create",
    ),
    "licenseRenew": Case(on(Scene.licence, LICENSE_RENEW), "license.renew"),
    "licenseSuspend": Case(on(Scene.licence, LICENSE_SUSPEND, reason="unpaid"), "license.suspend"),
    "licenseReactivate": Case(licence_reactivate, "license.reactivate"),
    "licenseRevoke": Case(on(Scene.licence, LICENSE_REVOKE, reason="refunded"), "license.revoke"),
    "webhookCreate": Case(
        given(
            WEBHOOK_CREATE,
            lambda s: {"input": {"kind": "EMAIL", "recipients": ["ops@example.com"]}},
        ),
        "webhook.create",
    ),
    "webhookUpdate": Case(webhook_update, "webhook.update"),
    "webhookRotateSecret": Case(on(Scene.webhook, WEBHOOK_ROTATE_SECRET), "webhook.rotate_secret"),
    "webhookDelete": Case(on(Scene.webhook, WEBHOOK_DELETE), "webhook.delete"),
    "webhookTest": Case(on(Scene.webhook, WEBHOOK_TEST), "webhook.test"),
    "deliveryReplay": Case(on(Scene.delivery, DELIVERY_REPLAY), "delivery.replay"),
}

# Mutations that legitimately write no audit event, each with the reason.
EXEMPT: dict[str, str] = {}

SCHEMA = graphql.build_schema(build_schema().as_str())
assert SCHEMA.mutation_type is not None
MUTATIONS = sorted(SCHEMA.mutation_type.fields)


def test_the_table_names_only_mutations_the_schema_has() -> None:
    stale = (set(CASES) | set(EXEMPT)) - set(MUTATIONS)
    assert not stale, f"no such mutation in the schema any more: {sorted(stale)}"
    assert not set(CASES) & set(EXEMPT), "a mutation is either called or exempt, not both"


@pytest.fixture
async def scene(gql: GraphQL, admin_key: str, yard: Shipyard, s3: LocalS3, bucket: str) -> Scene:
    await yard.release("1.0.0", [LINUX])
    return Scene(gql, admin_key, yard, s3, bucket)


async def send(client: httpx.AsyncClient, key: str, call: Call) -> httpx.Response:
    """The call as a client sends it: JSON, or a GraphQL multipart request with its file."""
    headers = {"Authorization": f"Bearer {key}"}
    if call.file is None:
        body = {"query": call.document, "variables": call.variables}
        return await client.post("/graphql", json=body, headers=headers)
    operations = {"query": call.document, "variables": call.variables}
    return await client.post(
        "/graphql",
        data={"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.file"]})},
        files={"0": (*call.file, "application/octet-stream")},
        headers=headers,
    )


@pytest.mark.parametrize("name", MUTATIONS)
async def test_the_mutation_writes_an_audit_event(
    client: httpx.AsyncClient, scene: Scene, name: str
) -> None:
    if name in EXEMPT:
        pytest.skip(f"exempt: {EXEMPT[name]}")
    case = CASES.get(name)
    assert case is not None, (
        f"{name} is a mutation of the schema without a case here: add a minimal call that "
        f"changes something to CASES in {__name__}, and make {name} write an audit event "
        "(ferryman.models.audit_event.record) in the transaction of its change"
    )
    call = await case.arrange(scene)
    before = set(await AuditEvent.all().values_list("id", flat=True))

    response = await send(client, scene.key, call)

    assert response.status_code == 200, response.text
    payload = payload_of(response.json(), name)
    assert payload["userErrors"] == [], payload
    new = await AuditEvent.exclude(id__in=before)
    assert new, f"{name} changed something and wrote no audit event"
    assert case.action in {event.action for event in new}, [e.action for e in new]
    caller = (await key_row(scene.key)).id
    assert {(e.key_id, e.request_id) for e in new} == {(caller, response.headers["x-request-id"])}
