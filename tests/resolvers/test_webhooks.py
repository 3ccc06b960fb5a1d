"""Notification endpoints through GraphQL: creating each kind (a webhook's secret shown
once), the refusals that name their field, who may see and change which endpoints,
update, disable, rotate, delete, test messages, replays, and the deliveries a publish
writes.

Published releases here are rows without a file (:mod:`tests.support.rows`): the subject
is which endpoints hear of them, not what an updater is offered. The dispatcher is off, so
every delivery stays as the outbox wrote it until a test records an attempt.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ferryman.models import AuditEvent, Delivery, Notification, Webhook
from ferryman.models import notification as notifications
from ferryman.models.actor import KeyScope
from ferryman.models.notification import Attempt
from ferryman.settings import Settings
from tests.conftest import GraphQL, make_key, peer, serving
from tests.support.api import create_app, payload_of
from tests.support.database import snapshot
from tests.support.documents import (
    DELIVERY,
    DELIVERY_REPLAY,
    NODE,
    RELEASE_ARCHIVE,
    WEBHOOK,
    WEBHOOK_CREATE,
    WEBHOOK_DELETE,
    WEBHOOK_ROTATE_SECRET,
    WEBHOOK_TEST,
    WEBHOOK_UPDATE,
)
from tests.support.refusals import top_error, useful, user_error
from tests.support.rows import published_release

# The rule resolves every host, and a test must not depend on DNS: public addresses are
# written as such (example.com's).
PUBLIC_URL = "https://93.184.215.14/hooks/ferryman"
SLACK_URL = "https://93.184.215.14/services/T000/B000/XXXX"
DISCORD_URL = "https://93.184.215.14/api/webhooks/1/abc"
LOOPBACK_URL = "http://127.0.0.1:9/hook"

WEBHOOKS = f"""
query ($appId: ID, $first: Int, $after: String) {{
  webhooks(appId: $appId, first: $first, after: $after) {{
    totalCount
    pageInfo {{ hasNextPage endCursor }}
    edges {{ node {{ {WEBHOOK} lastDelivery {{ id status }} }} }}
  }}
}}
"""

DELIVERIES = f"""
query ($id: ID!, $first: Int, $after: String) {{
  node(id: $id) {{
    ... on Webhook {{
      deliveries(first: $first, after: $after) {{
        totalCount
        pageInfo {{ hasNextPage endCursor }}
        edges {{ node {{ {DELIVERY} }} }}
      }}
    }}
  }}
}}
"""

DELIVERY_NODE = f"query ($id: ID!) {{ node(id: $id) {{ ... on Delivery {{ {DELIVERY} }} }} }}"


@dataclasses.dataclass
class Admin:
    """A key's calls, each checked for top-level errors."""

    gql: GraphQL
    key: str

    async def payload(self, document: str, variables: dict[str, Any], name: str) -> Any:
        return payload_of(await self.gql(document, variables, key=self.key), name)

    async def mutate(self, document: str, variables: dict[str, Any], name: str) -> Any:
        payload = await self.payload(document, variables, name)
        assert payload["userErrors"] == [], payload
        return payload

    async def create(self, **input: Any) -> dict[str, Any]:
        """A new endpoint (a WEBHOOK to PUBLIC_URL unless ``input`` says otherwise)."""
        values = {"kind": "WEBHOOK", "url": PUBLIC_URL, **input}
        if values["kind"] == "EMAIL":
            values.pop("url")
        payload: dict[str, Any] = await self.mutate(
            WEBHOOK_CREATE, {"input": values}, "webhookCreate"
        )
        return payload

    async def listed(self, app_id: str | None = None) -> set[str]:
        result = await self.gql(WEBHOOKS, {"appId": app_id, "first": 100}, key=self.key)
        assert not result.get("errors"), result
        return {edge["node"]["id"] for edge in result["data"]["webhooks"]["edges"]}

    async def node(self, node_id: str) -> Any:
        result = await self.gql(NODE, {"id": node_id}, key=self.key)
        assert not result.get("errors"), result
        return result["data"]["node"]


@pytest.fixture
def admin(gql: GraphQL, admin_key: str) -> Admin:
    return Admin(gql, admin_key)


def decoded_secret(secret: str) -> bytes:
    """The secret's bytes, after checking its form: whsec_ and base64 of 24 to 64 bytes."""
    assert secret.startswith("whsec_"), secret
    try:
        raw = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    except binascii.Error:
        raise AssertionError(f"{secret!r} is not whsec_ and base64") from None
    assert 24 <= len(raw) <= 64, len(raw)
    return raw


async def pending_of(webhook_id: str) -> list[Delivery]:
    return await Delivery.filter(webhook_id=webhook_id).order_by("id")


# --- webhookCreate -------------------------------------------------------------------


async def test_each_kind_is_created_and_only_a_webhook_has_a_secret_shown_once(
    admin: Admin,
) -> None:
    app_id = await create_app(admin.gql, admin.key, slug="my-app")

    created = await admin.create(
        appId=app_id, events=["RELEASE_PUBLISHED", "RELEASE_YANKED"], maxInFlight=2
    )
    slack = await admin.create(appId=app_id, kind="SLACK", url=f"  {SLACK_URL} ")
    discord = await admin.create(kind="DISCORD", url=DISCORD_URL)
    email = await admin.create(
        appId=app_id, kind="EMAIL", recipients=["ops@example.com", " dev@example.org ", ""]
    )

    secret = created["secret"]
    decoded_secret(secret)
    webhook = created["webhook"]
    assert webhook["id"].startswith("whk_")
    assert (webhook["kind"], webhook["url"], webhook["recipients"]) == ("WEBHOOK", PUBLIC_URL, [])
    assert webhook["events"] == ["RELEASE_PUBLISHED", "RELEASE_YANKED"]
    assert (webhook["maxInFlight"], webhook["enabled"], webhook["disabledReason"]) == (
        2,
        True,
        None,
    )
    assert webhook["app"] == {"id": app_id, "slug": "my-app"}
    assert webhook["previousSecretUntil"] is None
    assert (await Webhook.get(id=webhook["id"])).secret == secret

    assert slack["secret"] is None
    # A Slack URL is its own credential: shown as its host and last four characters.
    shown = ("SLACK", "https://93.184.215.14/…XXXX")
    assert (slack["webhook"]["kind"], slack["webhook"]["url"]) == shown
    assert (await Webhook.get(id=slack["webhook"]["id"])).url == SLACK_URL
    assert slack["webhook"]["events"] == []  # every event
    assert slack["webhook"]["maxInFlight"] == 4
    assert discord["secret"] is None
    assert discord["webhook"]["app"] is None  # hears every app
    assert email["secret"] is None
    assert email["webhook"]["url"] is None
    assert email["webhook"]["recipients"] == ["ops@example.com", "dev@example.org"]

    # Never again: no listing, node or field carries it.
    listing = await admin.gql(WEBHOOKS, {}, key=admin.key)
    assert listing["data"]["webhooks"]["totalCount"] == 4
    assert secret not in repr(listing)
    assert secret not in repr(await admin.gql(DELIVERIES, {"id": webhook["id"]}, key=admin.key))
    fields = await admin.gql('{ __type(name: "Webhook") { fields { name } } }', key=admin.key)
    assert not {"secret", "previousSecret"} & {
        f["name"] for f in fields["data"]["__type"]["fields"]
    }

    events = await AuditEvent.filter(action="webhook.create").order_by("id")
    assert [e.target_id for e in events] == [
        w["webhook"]["id"] for w in (created, slack, discord, email)
    ]
    assert events[0].app_id == app_id
    assert events[2].app_id is None
    assert "93.184.215.14" in events[0].summary
    assert secret not in repr(await AuditEvent.all().values())


@pytest.mark.parametrize(
    ("input", "field", "said"),
    [
        ({"url": "not a url"}, ["input", "url"], "is not an http:// or https:// URL"),
        ({"url": "ftp://93.184.215.14/x"}, ["input", "url"], "http:// or https://"),
        ({"url": "https://93.184.215.14:99999/"}, ["input", "url"], "is not a URL"),
        ({"url": LOOPBACK_URL}, ["input", "url"], "127.0.0.1, an internal address"),
        ({"url": "http://10.1.2.3/hook"}, ["input", "url"], "internal address"),
        ({"url": "http://[::ffff:169.254.169.254]/"}, ["input", "url"], "internal address"),
        ({"url": None}, ["input", "url"], "http:// or https://"),
        ({"recipients": ["a@example.com"]}, ["input", "recipients"], "has a URL, not recipients"),
        ({"events": ["TEST"]}, ["input", "events"], "is not an event"),
        ({"maxInFlight": 0}, ["input", "maxInFlight"], "from 1 to 16, got 0"),
        ({"maxInFlight": 17}, ["input", "maxInFlight"], "from 1 to 16, got 17"),
        ({"kind": "EMAIL", "url": PUBLIC_URL}, ["input", "url"], "recipients, not a URL"),
        ({"kind": "EMAIL", "url": None}, ["input", "recipients"], "at least one email address"),
        (
            {"kind": "EMAIL", "url": None, "recipients": ["ops@example.com", "<script>"]},
            ["input", "recipients"],
            "'<script>' is not an email address",
        ),
        (
            {"kind": "EMAIL", "url": None, "recipients": ["ops at example.com"]},
            ["input", "recipients"],
            "is not an email address",
        ),
        (
            {"kind": "EMAIL", "url": None, "recipients": [f"u{i}@example.com" for i in range(21)]},
            ["input", "recipients"],
            "at most 20 recipients",
        ),
    ],
    ids=[
        "not-a-url",
        "ftp",
        "bad-port",
        "loopback",
        "private",
        "metadata-mapped",
        "no-url",
        "webhook-recipients",
        "test-event",
        "in-flight-0",
        "in-flight-17",
        "email-url",
        "email-nobody",
        "email-markup",
        "email-not-an-address",
        "email-too-many",
    ],
)
async def test_bad_input_is_named_and_changes_nothing(
    admin: Admin, input: dict[str, Any], field: list[str], said: str
) -> None:
    app_id = await create_app(admin.gql, admin.key)
    before = await snapshot()

    values = {"appId": app_id, "kind": "WEBHOOK", "url": PUBLIC_URL, **input}
    payload = await admin.payload(WEBHOOK_CREATE, {"input": values}, "webhookCreate")

    assert (payload["webhook"], payload["secret"]) == (None, None)
    assert said in useful(user_error(payload, "INVALID_INPUT", field))
    assert await snapshot() == before


async def test_an_unknown_event_or_kind_is_refused_by_name(admin: Admin) -> None:
    for wrong, named in (
        ({"events": ["RELEASE_EXPLODED"]}, "RELEASE_EXPLODED"),
        ({"kind": "CARRIER_PIGEON"}, "CARRIER_PIGEON"),
    ):
        values = {"kind": "WEBHOOK", "url": PUBLIC_URL, **wrong}
        result = await admin.gql(WEBHOOK_CREATE, {"input": values}, key=admin.key)
        assert named in top_error(result, "BAD_USER_INPUT")["message"], result
    assert await Webhook.all().count() == 0


async def test_an_unknown_app_is_not_found(admin: Admin) -> None:
    values = {"appId": "app_01ARZ3NDEKTSV4RRFFQ69G5FAV", "kind": "WEBHOOK", "url": PUBLIC_URL}
    payload = await admin.payload(WEBHOOK_CREATE, {"input": values}, "webhookCreate")
    user_error(payload, "NOT_FOUND", ["input", "appId"])
    assert await Webhook.all().count() == 0


async def test_internal_addresses_are_accepted_when_the_operator_allows_them(
    settings: Settings,
) -> None:
    async with (
        serving(settings, webhooks_allow_private=True) as application,
        peer(application) as client,
    ):
        allowing = Admin(GraphQL(client), await make_key(KeyScope.ADMIN))
        created = (await allowing.create(url=LOOPBACK_URL))["webhook"]
        assert created["url"] == LOOPBACK_URL
        moved = {"id": created["id"], "url": "http://localhost:8080/hook"}
        await allowing.mutate(WEBHOOK_UPDATE, {"input": moved}, "webhookUpdate")
        assert (await Webhook.get(id=created["id"])).url == moved["url"]


async def test_an_update_to_an_internal_address_is_refused_as_a_new_one_is(
    admin: Admin,
) -> None:
    webhook = (await admin.create())["webhook"]["id"]
    moved = {"id": webhook, "url": LOOPBACK_URL}
    payload = await admin.payload(WEBHOOK_UPDATE, {"input": moved}, "webhookUpdate")
    assert "internal address" in user_error(payload, "INVALID_INPUT", ["input", "url"])
    assert (await Webhook.get(id=webhook)).url == PUBLIC_URL


# --- who may see and change which endpoints -----------------------------------------


async def test_ci_keys_see_and_change_no_endpoint(admin: Admin, gql: GraphQL) -> None:
    app_id = await create_app(gql, admin.key)
    webhook = (await admin.create(appId=app_id))["webhook"]["id"]
    delivery = (await admin.mutate(WEBHOOK_TEST, {"id": webhook}, "webhookTest"))["delivery"]
    keys = (await make_key(KeyScope.CI, app_id), await make_key(KeyScope.CI))
    before = await snapshot()

    for ci in keys:
        for document, variables in (
            (WEBHOOK_CREATE, {"input": {"appId": app_id, "kind": "WEBHOOK", "url": PUBLIC_URL}}),
            (WEBHOOK_UPDATE, {"input": {"id": webhook, "enabled": False}}),
            (WEBHOOK_ROTATE_SECRET, {"id": webhook}),
            (WEBHOOK_DELETE, {"id": webhook}),
            (WEBHOOK_TEST, {"id": webhook}),
            (DELIVERY_REPLAY, {"id": delivery["id"]}),
            (WEBHOOKS, {"appId": app_id}),
        ):
            result = await gql(document, variables, key=ci)
            assert "CI keys" in top_error(result, "FORBIDDEN")["message"], result
        for node_id in (webhook, delivery["id"]):
            assert (await Admin(gql, ci).node(node_id)) is None
    assert await snapshot() == before


async def test_an_app_admin_manages_its_apps_endpoints_and_no_others(
    admin: Admin, gql: GraphQL
) -> None:
    alpha = await create_app(gql, admin.key, slug="alpha")
    beta = await create_app(gql, admin.key, slug="beta")
    theirs = (await admin.create(appId=beta))["webhook"]["id"]
    everyone = (await admin.create(kind="SLACK", url=SLACK_URL))["webhook"]["id"]
    sent = (await admin.mutate(WEBHOOK_TEST, {"id": theirs}, "webhookTest"))["delivery"]["id"]
    limited = Admin(gql, await make_key(KeyScope.ADMIN, alpha, name="alpha admin"))
    before = await snapshot()

    assert await limited.listed() == set()
    assert await limited.listed(beta) == set()
    for hidden in (theirs, everyone, sent):
        assert await limited.node(hidden) is None
    for hidden in (theirs, everyone):
        for document, variables, name in (
            (WEBHOOK_UPDATE, {"input": {"id": hidden, "enabled": False}}, "webhookUpdate"),
            (WEBHOOK_ROTATE_SECRET, {"id": hidden}, "webhookRotateSecret"),
            (WEBHOOK_DELETE, {"id": hidden}, "webhookDelete"),
            (WEBHOOK_TEST, {"id": hidden}, "webhookTest"),
        ):
            payload = await limited.payload(document, variables, name)
            assert hidden in user_error(payload, "NOT_FOUND", ["input", "id"])
    replayed = await limited.payload(DELIVERY_REPLAY, {"id": sent}, "deliveryReplay")
    message = user_error(replayed, "NOT_FOUND", ["input", "id"])
    assert theirs not in message  # the endpoint behind it stays unnamed
    into_beta = {"appId": beta, "kind": "WEBHOOK", "url": PUBLIC_URL}
    payload = await limited.payload(WEBHOOK_CREATE, {"input": into_beta}, "webhookCreate")
    user_error(payload, "NOT_FOUND", ["input", "appId"])
    global_one = {"kind": "WEBHOOK", "url": PUBLIC_URL}
    payload = await limited.payload(WEBHOOK_CREATE, {"input": global_one}, "webhookCreate")
    assert "limited to chosen apps" in user_error(payload, "INVALID_INPUT", ["input", "appId"])
    assert await snapshot() == before

    # Its own app's endpoints are its to manage, from start to end.
    mine = (await limited.create(appId=alpha))["webhook"]["id"]
    assert await limited.listed() == {mine}
    assert (await limited.node(mine))["id"] == mine
    await limited.mutate(WEBHOOK_TEST, {"id": mine}, "webhookTest")
    await limited.mutate(WEBHOOK_DELETE, {"id": mine}, "webhookDelete")

    # A global admin sees every one, and an app's alone when asked.
    assert await admin.listed() == {theirs, everyone}
    assert await admin.listed(beta) == {theirs}
    assert await admin.listed(alpha) == set()


async def test_the_list_pages_newest_first(admin: Admin) -> None:
    made = [(await admin.create(kind="SLACK", url=SLACK_URL))["webhook"]["id"] for _ in range(3)]
    first = await admin.gql(WEBHOOKS, {"first": 2}, key=admin.key)
    page = first["data"]["webhooks"]
    assert [e["node"]["id"] for e in page["edges"]] == made[:0:-1]
    assert (page["totalCount"], page["pageInfo"]["hasNextPage"]) == (3, True)
    after = {"first": 2, "after": page["pageInfo"]["endCursor"]}
    rest = (await admin.gql(WEBHOOKS, after, key=admin.key))["data"]["webhooks"]
    assert [e["node"]["id"] for e in rest["edges"]] == made[:1]
    assert rest["pageInfo"]["hasNextPage"] is False


# --- webhookUpdate, webhookRotateSecret, webhookDelete ----------------------------------


async def test_update_changes_what_it_is_given_and_keeps_the_rest(admin: Admin) -> None:
    created = (await admin.create(events=["RELEASE_PUBLISHED"]))["webhook"]
    changes = {
        "id": created["id"],
        "url": "https://93.184.215.14/v2",
        "events": ["RELEASE_ARCHIVED", "RELEASE_ARCHIVED", "API_KEY_CREATED"],
        "maxInFlight": 16,
    }

    updated = (await admin.mutate(WEBHOOK_UPDATE, {"input": changes}, "webhookUpdate"))["webhook"]

    assert updated["url"] == "https://93.184.215.14/v2"
    assert updated["events"] == ["API_KEY_CREATED", "RELEASE_ARCHIVED"]
    assert (updated["maxInFlight"], updated["kind"], updated["enabled"]) == (16, "WEBHOOK", True)
    assert updated["updatedAt"] >= created["updatedAt"]
    event = await AuditEvent.get(action="webhook.update")
    assert event.target_id == created["id"]
    assert "events" in event.summary
    assert "url" in event.summary

    everything = {"id": created["id"], "events": []}
    updated = await admin.mutate(WEBHOOK_UPDATE, {"input": everything}, "webhookUpdate")
    assert updated["webhook"]["events"] == []

    email = (await admin.create(kind="EMAIL", recipients=["a@example.com"]))["webhook"]["id"]
    before = await snapshot()
    for wrong, field in (
        ({"url": PUBLIC_URL}, ["input", "url"]),
        ({"recipients": ["nobody"]}, ["input", "recipients"]),
        ({"recipients": []}, ["input", "recipients"]),
        ({"maxInFlight": -1}, ["input", "maxInFlight"]),
    ):
        payload = await admin.payload(
            WEBHOOK_UPDATE, {"input": {"id": email, **wrong}}, "webhookUpdate"
        )
        user_error(payload, "INVALID_INPUT", field)
    payload = await admin.payload(
        WEBHOOK_UPDATE, {"input": {"id": "whk_nope", "enabled": True}}, "webhookUpdate"
    )
    assert "not a valid notification endpoint id" in user_error(
        payload, "INVALID_INPUT", ["input", "id"]
    )
    assert await snapshot() == before


async def test_disable_stops_new_messages_and_enable_clears_the_reason(
    admin: Admin, gql: GraphQL
) -> None:
    app_id = await create_app(gql, admin.key)
    webhook = (await admin.create(appId=app_id))["webhook"]["id"]
    off = {"id": webhook, "enabled": False}

    disabled = (await admin.mutate(WEBHOOK_UPDATE, {"input": off}, "webhookUpdate"))["webhook"]

    assert disabled["enabled"] is False
    await published_release(gql, admin.key, app_id, "1.0.0")
    assert await pending_of(webhook) == []
    # The server disables an endpoint that said it is gone; enabling it clears the reason.
    await Webhook.filter(id=webhook).update(disabled_reason="HTTP 410 Gone")
    on = {"id": webhook, "enabled": True}
    enabled = (await admin.mutate(WEBHOOK_UPDATE, {"input": on}, "webhookUpdate"))["webhook"]
    assert (enabled["enabled"], enabled["disabledReason"]) == (True, None)
    assert [e.summary for e in await AuditEvent.filter(action="webhook.update")] == [
        f"changed enabled of endpoint 93.184.215.14 ({webhook})",
        f"changed disabled_reason, enabled of endpoint 93.184.215.14 ({webhook})",
    ]


async def test_rotating_shows_a_new_secret_once_and_keeps_the_old_one_signing(
    admin: Admin,
) -> None:
    created = await admin.create()
    webhook, old = created["webhook"]["id"], created["secret"]

    rotated = await admin.mutate(WEBHOOK_ROTATE_SECRET, {"id": webhook}, "webhookRotateSecret")

    new = rotated["secret"]
    decoded_secret(new)
    assert new != old
    row = await Webhook.get(id=webhook)
    assert (row.secret, row.previous_secret) == (new, old)
    until = datetime.fromisoformat(rotated["webhook"]["previousSecretUntil"])
    assert timedelta(hours=23) < until - datetime.now(UTC) <= timedelta(hours=24)
    assert row.signing_secrets(datetime.now(UTC)) == [new, old]
    assert row.signing_secrets(datetime.now(UTC) + timedelta(days=2)) == [new]
    assert new not in repr(await admin.node(webhook))
    event = await AuditEvent.get(action="webhook.rotate_secret")
    assert event.target_id == webhook
    assert new not in event.summary
    assert old not in event.summary

    slack = (await admin.create(kind="SLACK", url=SLACK_URL))["webhook"]["id"]
    payload = await admin.payload(WEBHOOK_ROTATE_SECRET, {"id": slack}, "webhookRotateSecret")
    assert "has no secret" in user_error(payload, "INVALID_INPUT", ["input", "id"])
    assert payload["secret"] is None
    assert (await Webhook.get(id=slack)).secret is None


async def test_delete_takes_the_endpoint_and_its_deliveries(admin: Admin) -> None:
    webhook = (await admin.create())["webhook"]["id"]
    delivery = (await admin.mutate(WEBHOOK_TEST, {"id": webhook}, "webhookTest"))["delivery"]

    deleted = await admin.mutate(WEBHOOK_DELETE, {"id": webhook}, "webhookDelete")

    assert deleted["deletedWebhookId"] == webhook
    assert not await Webhook.filter(id=webhook).exists()
    assert not await Delivery.filter(id=delivery["id"]).exists()
    assert await admin.node(webhook) is None
    assert await admin.node(delivery["id"]) is None
    event = await AuditEvent.get(action="webhook.delete")
    assert event.target_id == webhook
    again = await admin.payload(WEBHOOK_DELETE, {"id": webhook}, "webhookDelete")
    user_error(again, "NOT_FOUND", ["input", "id"])


# --- deliveries: tests, publishing, replays ------------------------------------------


async def test_a_test_message_goes_to_that_endpoint_only(admin: Admin, gql: GraphQL) -> None:
    app_id = await create_app(gql, admin.key)
    target = (await admin.create(appId=app_id, events=["RELEASE_ARCHIVED"]))["webhook"]["id"]
    beside = (await admin.create(appId=app_id))["webhook"]["id"]
    everyone = (await admin.create(kind="DISCORD", url=DISCORD_URL))["webhook"]["id"]

    sent = await admin.mutate(WEBHOOK_TEST, {"id": target}, "webhookTest")

    delivery = sent["delivery"]
    assert delivery["id"].startswith("dlv_")
    assert delivery["notificationId"].startswith("msg_")
    assert (delivery["eventType"], delivery["status"], delivery["attempts"]) == (
        "TEST",
        "PENDING",
        0,
    )
    assert delivery["nextAttemptAt"] is not None
    assert (delivery["lastAttemptAt"], delivery["lastStatusCode"], delivery["lastError"]) == (
        None,
        None,
        None,
    )
    assert delivery["webhook"] == {"id": target}
    assert json.loads(delivery["payload"])["type"] == "webhook.test"
    assert json.loads(delivery["payload"])["data"]["webhook_id"] == target
    assert json.loads(delivery["payload"])["data"]["actor"]["name"] == "global admin"
    assert [d.id for d in await pending_of(target)] == [delivery["id"]]
    assert await pending_of(beside) == []
    assert await pending_of(everyone) == []
    notification = await Notification.get(id=delivery["notificationId"])
    assert notification.app_id == app_id
    event = await AuditEvent.get(action="webhook.test")
    assert (event.target_id, event.app_id) == (target, app_id)

    assert (await admin.gql(DELIVERY_NODE, {"id": delivery["id"]}, key=admin.key))["data"][
        "node"
    ] == delivery
    listed = await admin.gql(WEBHOOKS, {"appId": app_id}, key=admin.key)
    last = {e["node"]["id"]: e["node"]["lastDelivery"] for e in listed["data"]["webhooks"]["edges"]}
    assert last == {target: {"id": delivery["id"], "status": "PENDING"}, beside: None}


async def test_publishing_reaches_the_endpoints_that_listen(admin: Admin, gql: GraphQL) -> None:
    app_id = await create_app(gql, admin.key, slug="my-app")
    other_app = await create_app(gql, admin.key, slug="other-app")
    listening = (await admin.create(appId=app_id, events=["RELEASE_PUBLISHED"]))["webhook"]["id"]
    deaf = (await admin.create(appId=app_id, events=["RELEASE_ARCHIVED"]))["webhook"]["id"]
    elsewhere = (await admin.create(appId=other_app))["webhook"]["id"]
    everyone = (await admin.create(kind="EMAIL", recipients=["ops@example.com"]))["webhook"]["id"]

    release_id = await published_release(gql, admin.key, app_id, "1.2.0")

    heard = {w: await pending_of(w) for w in (listening, deaf, elsewhere, everyone)}
    assert [len(heard[w]) for w in (listening, deaf, elsewhere, everyone)] == [1, 0, 0, 1]
    message = await Notification.get(id=heard[listening][0].notification_id)
    assert heard[everyone][0].notification_id == message.id  # one message, two deliveries
    assert message.message["type"] == "release.published"
    assert message.message["data"]["release"]["version"] == "1.2.0"
    assert message.message["data"]["app"]["slug"] == "my-app"

    page = await admin.gql(DELIVERIES, {"id": listening}, key=admin.key)
    edges = page["data"]["node"]["deliveries"]["edges"]
    assert [e["node"]["eventType"] for e in edges] == ["RELEASE_PUBLISHED"]
    assert json.loads(edges[0]["node"]["payload"])["data"]["release"]["id"] == release_id

    archived = await admin.mutate(RELEASE_ARCHIVE, {"id": release_id}, "releaseArchive")
    assert archived["release"]["status"] == "ARCHIVED"
    assert len(await pending_of(deaf)) == 1
    assert len(await pending_of(listening)) == 1


async def test_replay_sends_the_same_message_again_as_a_new_delivery(admin: Admin) -> None:
    webhook = (await admin.create())["webhook"]["id"]
    first = (await admin.mutate(WEBHOOK_TEST, {"id": webhook}, "webhookTest"))["delivery"]
    # The dispatcher gave up on it: every attempt failed.
    row = await Delivery.get(id=first["id"])
    await Delivery.filter(id=row.id).update(attempts=9)
    now = datetime.now(UTC)
    failure = Attempt(ok=False, status_code=503, error="HTTP 503")
    await notifications.record(await Delivery.get(id=row.id), now, failure)

    failed = (await admin.gql(DELIVERY_NODE, {"id": first["id"]}, key=admin.key))["data"]["node"]
    assert (failed["status"], failed["attempts"], failed["lastStatusCode"]) == ("FAILED", 10, 503)
    assert (failed["nextAttemptAt"], failed["lastError"]) == (None, "HTTP 503")
    assert failed["lastAttemptAt"] is not None

    replayed = await admin.mutate(DELIVERY_REPLAY, {"id": first["id"]}, "deliveryReplay")

    again = replayed["delivery"]
    assert again["id"] != first["id"]
    assert again["notificationId"] == first["notificationId"]
    assert (again["status"], again["attempts"], again["eventType"]) == ("PENDING", 0, "TEST")
    assert again["payload"] == first["payload"]
    assert [d.id for d in await pending_of(webhook)] == [first["id"], again["id"]]
    event = await AuditEvent.get(action="delivery.replay")
    assert event.target_id == again["id"]
    assert first["notificationId"] in event.summary

    page = await admin.gql(DELIVERIES, {"id": webhook, "first": 1}, key=admin.key)
    deliveries = page["data"]["node"]["deliveries"]
    assert [e["node"]["id"] for e in deliveries["edges"]] == [again["id"]]  # newest first
    assert (deliveries["totalCount"], deliveries["pageInfo"]["hasNextPage"]) == (2, True)


async def test_replay_and_test_are_refused_while_the_endpoint_is_disabled(
    admin: Admin,
) -> None:
    webhook = (await admin.create())["webhook"]["id"]
    sent = (await admin.mutate(WEBHOOK_TEST, {"id": webhook}, "webhookTest"))["delivery"]
    off = {"id": webhook, "enabled": False}
    await admin.mutate(WEBHOOK_UPDATE, {"input": off}, "webhookUpdate")
    await Webhook.filter(id=webhook).update(disabled_reason="HTTP 410 Gone")
    before = await snapshot()

    payload = await admin.payload(DELIVERY_REPLAY, {"id": sent["id"]}, "deliveryReplay")

    assert payload["delivery"] is None
    message = user_error(payload, "INVALID_INPUT", ["input", "id"])
    assert "disabled (HTTP 410 Gone)" in message
    assert "enable it before replaying" in message
    assert await snapshot() == before
    tested = await admin.payload(WEBHOOK_TEST, {"id": webhook}, "webhookTest")
    assert tested["delivery"] is None
    message = user_error(tested, "INVALID_INPUT", ["input", "id"])
    assert "enable it before sending it a test message" in message
    assert await snapshot() == before
    for wrong, code in (
        ("dlv_nope", "INVALID_INPUT"),
        ("dlv_01ARZ3NDEKTSV4RRFFQ69G5FAV", "NOT_FOUND"),
    ):
        payload = await admin.payload(DELIVERY_REPLAY, {"id": wrong}, "deliveryReplay")
        user_error(payload, code, ["input", "id"])


async def test_node_finds_endpoints_and_deliveries(admin: Admin) -> None:
    webhook = (await admin.create(kind="EMAIL", recipients=["ops@example.com"]))["webhook"]
    delivery = (await admin.mutate(WEBHOOK_TEST, {"id": webhook["id"]}, "webhookTest"))["delivery"]
    found = await admin.gql(
        f"query ($w: ID!, $d: ID!) {{ w: node(id: $w) {{ ... on Webhook {{ {WEBHOOK} }} }} "
        f"d: node(id: $d) {{ __typename id }} }}",
        {"w": webhook["id"], "d": delivery["id"]},
        key=admin.key,
    )
    assert found["data"]["w"] == {**webhook, "updatedAt": found["data"]["w"]["updatedAt"]}
    assert found["data"]["d"] == {"__typename": "Delivery", "id": delivery["id"]}
