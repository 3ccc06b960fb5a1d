"""Slack and Discord messages as their webhooks take them: the shapes each accepts,
readable (app, version, channel, who, and the console link under FERRYMAN_PUBLIC_URL),
and safe: a hostile app name becomes no mention, channel or link. A Discord rate limit
is honoured from its JSON body."""

from __future__ import annotations

import contextlib
import dataclasses
import html
import json
import re
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest

from ferryman.models import notification as notifications
from ferryman.models.notification import Delivery
from ferryman.models.webhook import Event, Kind
from ferryman.notifications.dispatcher import Dispatcher
from ferryman.settings import Settings
from tests.conftest import GraphQL
from tests.notifications.conftest import LINUX, Clock, endpoint, send
from tests.support.receiver import Answer, Receiver
from tests.support.shipping import Shipyard

PUBLIC_URL = "https://updates.example.com"
HOSTILE = "<!channel> @everyone <https://evil.example|x> [click](https://evil.example) *boo*"
SLACK_MARKUP = re.compile(r"<[^>]*>")  # <!channel>, <@U123>, <#C123>, <https://…|text>
DISCORD_UNESCAPED = re.compile(r"(?<!\\)[\[\]<>@*_`|~#]")


@pytest.fixture
async def hostile(client: httpx.AsyncClient, gql: GraphQL, admin_key: str) -> Shipyard:
    return await Shipyard.open(client, gql, admin_key, slug="evil", name=HOSTILE)


@pytest.fixture
async def public(settings: Settings, clock: Clock) -> AsyncIterator[Dispatcher]:
    """A dispatcher of a server whose console is at PUBLIC_URL."""
    changed = dataclasses.replace(settings, webhooks_allow_private=True, public_url=PUBLIC_URL)
    sender = Dispatcher(changed, clock=clock)
    yield sender
    await sender.stop()


async def test_slack_gets_a_section_and_a_console_link_and_no_markup_from_a_name(
    hostile: Shipyard, receiver: Receiver, public: Dispatcher
) -> None:
    await endpoint(receiver.url, hostile.app_id, Kind.SLACK)
    release_id = await hostile.release("1.0.0", LINUX)
    await send(public)

    (request,) = receiver.wait_for(1)
    payload = request.json
    link = f"{PUBLIC_URL}/console/apps/evil/releases/{release_id}"
    assert set(payload) == {"text", "blocks"}
    section, context = payload["blocks"]
    assert section["type"] == "section"
    assert section["text"]["type"] == "mrkdwn"
    assert section["text"]["verbatim"] is True  # no automatic mentions or links
    assert 1 <= len(section["text"]["text"]) <= 3000
    assert context == {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": f"<{link}|Open in Ferryman>", "verbatim": True}],
    }
    # Readable: what the channel shows, once Slack has read its three escapes.
    shown = html.unescape(section["text"]["text"])
    assert shown == f"{HOSTILE} 1.0.0 on stable published by global admin"
    assert payload["text"] == f"{section['text']['text']} {link}"
    # Safe: the console link is the only markup in anything Slack reads as mrkdwn.
    everything = " ".join(
        [payload["text"], section["text"]["text"], context["elements"][0]["text"]]
    )
    assert SLACK_MARKUP.findall(everything) == [f"<{link}|Open in Ferryman>"]


async def test_discord_gets_content_with_markdown_escaped_and_no_mentions(
    hostile: Shipyard, receiver: Receiver, public: Dispatcher
) -> None:
    await endpoint(receiver.url, hostile.app_id, Kind.DISCORD)
    release_id = await hostile.release("1.0.0", LINUX)
    await send(public)

    (request,) = receiver.wait_for(1)
    payload = request.json
    assert set(payload) == {"content", "allowed_mentions"}
    assert payload["allowed_mentions"] == {"parse": []}  # @everyone pings nobody
    text, link = payload["content"].split("\n")
    assert link == f"{PUBLIC_URL}/console/apps/evil/releases/{release_id}"
    assert DISCORD_UNESCAPED.findall(text) == [], text  # no [masked](link), <@id> or *emphasis*
    shown = re.sub(r"\\(.)", r"\1", text)  # as Discord renders it
    assert shown == f"{HOSTILE} 1.0.0 on stable published by global admin"


async def test_a_long_message_is_cut_to_fit_and_keeps_its_link(
    yard: Shipyard, receiver: Receiver, public: Dispatcher
) -> None:
    await endpoint(receiver.url + "?slack", yard.app_id, Kind.SLACK)
    await endpoint(receiver.url + "?discord", yard.app_id, Kind.DISCORD)
    refusal = "the <signature> of *every* file [is] wrong; " * 200  # 9,000 characters
    data = {
        "app": {"id": yard.app_id, "slug": "my-app", "name": "my-app"},
        "version": "1.2.3",
        "error": {"code": "INVALID_INPUT", "message": refusal},
        "actor": {"kind": "api_key", "id": None, "name": "ci"},
    }
    await notifications.emit(Event.CI_SUBMISSION_FAILED, yard.app_id, data)
    await send(public)

    sent = {r.path: r.json for r in receiver.wait_for(2)}
    link = f"{PUBLIC_URL}/console/apps/my-app"
    content = sent["/hook?discord"]["content"]
    assert len(content) <= 2000
    assert content.endswith(f"…\n{link}")
    assert content.startswith("my\\-app 1.2.3: a CI submission was refused (the \\<signature\\>")
    section = sent["/hook?slack"]["blocks"][0]["text"]["text"]
    assert len(section) <= 3000
    assert section.endswith("…")
    assert not re.search(r"&[a-z]*…$", section), "an escape cut in half"


async def test_a_discord_rate_limit_is_honoured_from_its_json_body(
    yard: Shipyard, dispatcher: Dispatcher
) -> None:
    limited = {"message": "You are being rate limited.", "retry_after": 64.57, "global": False}
    padded = {**limited, "retry_after": 600, "padding": "x" * 5000}
    answers = {
        "discord": Answer(
            429, {"content-type": "application/json"}, body=json.dumps(limited).encode()
        ),
        "discord, a body too long to read": Answer(429, body=json.dumps(padded).encode()),
        "discord, a day at most": Answer(429, body=json.dumps({"retry_after": 1e12}).encode()),
        "webhook": Answer(429, body=json.dumps(limited).encode()),  # only Discord's body is read
    }
    receivers = {name: Receiver() for name in answers}
    with contextlib.ExitStack() as running:
        for name, receiver in receivers.items():
            running.enter_context(receiver.running())
            receiver.answer(answers[name])
            kind = Kind.WEBHOOK if name == "webhook" else Kind.DISCORD
            await endpoint(receiver.url, yard.app_id, kind)
        await yard.release("1.0.0", LINUX)
        assert await send(dispatcher) == 4

    waits = {}
    for name, receiver in receivers.items():
        delivery = await Delivery.get(webhook__url=receiver.url)
        assert delivery.last_attempt_at is not None
        waits[name] = delivery.next_attempt_at - delivery.last_attempt_at
    assert waits["discord"] == timedelta(seconds=64.57), waits
    assert waits["discord, a day at most"] == timedelta(days=1), waits
    for scheduled in ("discord, a body too long to read", "webhook"):  # the schedule's 5 s
        assert timedelta(seconds=4.5) <= waits[scheduled] <= timedelta(seconds=5.5), waits
