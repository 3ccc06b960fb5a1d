"""A notification as each kind of endpoint receives it.

The message (``{"type", "timestamp", "data"}``) is the same for every endpoint; this
module words it for people (one headline and a link, for Slack, Discord and email) and
signs it for machines (Standard Webhooks headers, with every secret the endpoint signs
with during a rotation).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from standardwebhooks import Webhook as Signer

from ferryman.models.notification import Notification
from ferryman.models.webhook import Event, Kind, Webhook

DISCORD_CONTENT_MAX = 2_000
SLACK_TEXT_MAX = 3_000  # a section's text
SUBJECT_MAX = 400  # folded over lines by the mail, but a subject, not a letter
USER_AGENT = "Ferryman-Webhooks/1"

_DISCORD_MARKUP = re.compile(r"[\\*_~`|<>\[\]#@-]")
_VERBS = {
    Event.RELEASE_PUBLISHED: "published",
    Event.RELEASE_ARCHIVED: "archived",
    Event.RELEASE_YANKED: "yanked",
    Event.RELEASE_ROLLED_BACK: "is offered again after a rollback",
    Event.RELEASE_ROLLOUT_CHANGED: "rollout changed",
    Event.RELEASE_HALTED: "halted by its health gate",
}


@dataclasses.dataclass(frozen=True, slots=True)
class Outgoing:
    """One HTTP request's body and headers."""

    body: bytes
    headers: dict[str, str]


def request_for(
    endpoint: Webhook, notification: Notification, base_url: str, now: datetime
) -> Outgoing:
    """The request an HTTP endpoint receives for ``notification``."""
    headers = {"content-type": "application/json", "user-agent": USER_AGENT}
    if endpoint.kind is Kind.WEBHOOK:
        body = notification.body.encode()
        signatures = [
            Signer(secret).sign(notification.id, now, notification.body)
            for secret in endpoint.signing_secrets(now)
        ]
        headers |= {
            "webhook-id": notification.id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": " ".join(signatures),
        }
        return Outgoing(body, headers)
    message = notification.message
    text, link = headline(message), link_for(message, base_url)
    payload = slack(text, link) if endpoint.kind is Kind.SLACK else discord(text, link)
    return Outgoing(json.dumps(payload).encode(), headers)


def slack(text: str, link: str) -> dict[str, Any]:
    """A Slack message: ``text`` is the notification's fallback, the blocks what the
    channel shows. Verbatim, so Slack turns nothing a name holds into a mention, a
    channel or a link; the console link is the only markup."""
    shown = _shortened(text, SLACK_TEXT_MAX, _slack_escape)
    return {
        "text": f"{shown} {link}",
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": shown, "verbatim": True}},
            {
                "type": "context",
                "elements": [
                    {"type": "mrkdwn", "text": f"<{link}|Open in Ferryman>", "verbatim": True}
                ],
            },
        ],
    }


def discord(text: str, link: str) -> dict[str, Any]:
    """A Discord message: the headline with Markdown escaped (no masked link or mention
    can hide in a name), shortened to leave room for the link, and no mention pings."""
    shown = _shortened(text, DISCORD_CONTENT_MAX - len(link) - 1, _discord_escape)
    return {"content": f"{shown}\n{link}", "allowed_mentions": {"parse": []}}


def mail(message: dict[str, Any], base_url: str) -> tuple[str, str]:
    """An email's subject (the headline, on one line) and plain-text body: the
    headline, the link, and every fact of the event, one a line."""
    subject = _shortened(" ".join(headline(message).split()), SUBJECT_MAX, str)
    lines = [headline(message), "", link_for(message, base_url), ""]
    lines.append(f"event: {message['type']}")
    lines.append(f"at: {message['timestamp']}")
    lines += [f"{name}: {value}" for name, value in _facts(message["data"])]
    return subject, "\n".join(lines) + "\n"


def headline(message: dict[str, Any]) -> str:
    """One line a person reads: what happened to what, and who did it."""
    event = Event(message["type"])
    data: dict[str, Any] = message["data"]
    app = data.get("app") or {}
    name = app.get("name") or app.get("slug") or "an app"
    who = (data.get("actor") or {}).get("name")
    by = f" by {who}" if who else ""
    release = data.get("release")
    if event in _VERBS and release:
        where = f" on {release['channel']}"
        detail = ""
        if event is Event.RELEASE_ROLLOUT_CHANGED:
            detail = f" to {release['rollout_percent']}% of installs"
        elif event is Event.RELEASE_ROLLED_BACK:
            detail = f" ({data['yanked']['version']} withdrawn: {data.get('reason')})"
        elif event is Event.RELEASE_YANKED:
            detail = f": {data.get('reason')}"
        elif event is Event.RELEASE_HALTED:
            halts = data.get("halts") or []
            detail = " on " + "; ".join(f"{h['platform']} ({h['reason']})" for h in halts)
        return f"{name} {release['version']}{where} {_VERBS[event]}{detail}{by}"
    if event is Event.ARTIFACT_VERIFICATION_FAILED and release:
        platform, reason = data["artifact"]["platform"], data.get("reason")
        return (
            f"{name} {release['version']}: the {platform} file failed verification ({reason}){by}"
        )
    if event is Event.CI_SUBMISSION_FAILED:
        refusal = data["error"]["message"]
        return f"{name} {data.get('version')}: a CI submission was refused ({refusal}){by}"
    if event in (Event.API_KEY_CREATED, Event.API_KEY_REVOKED):
        key = data["api_key"]
        verb = "created" if event is Event.API_KEY_CREATED else "revoked"
        return f"API key {key['name']!r} ({key['scope']}, {key['prefix']}…) {verb}{by}"
    if event in (Event.LICENSE_EXPIRING, Event.LICENSE_EXPIRED):
        licence = data.get("license") or {}
        customer = licence.get("customer") or licence.get("prefix") or "a customer"
        when = _readable(licence.get("expires_at", ""))
        verb = "expires" if event is Event.LICENSE_EXPIRING else "expired"
        return f"{name}: the licence of {customer} {verb} on {when}"
    return f"Ferryman test notification{by}"


def link_for(message: dict[str, Any], base_url: str) -> str:
    """Where a person follows up: the release, licence or app in the console."""
    data: dict[str, Any] = message["data"]
    slug = (data.get("app") or {}).get("slug")
    release = data.get("release")
    licence = data.get("license")
    if slug and release:
        return f"{base_url}/console/apps/{slug}/releases/{release['id']}"
    if slug and licence:
        return f"{base_url}/console/apps/{slug}/licences/{licence['id']}"
    if slug:
        return f"{base_url}/console/apps/{slug}"
    return f"{base_url}/console"


def _shortened(text: str, limit: int, escape: Callable[[str], str]) -> str:
    """``escape(text)``, the text cut short (and an ellipsis added) until it fits in
    ``limit``: cut before escaping, so no escape is cut in half."""
    shown = escape(text)
    while len(shown) > limit:
        text = text[: len(text) - (len(shown) - limit) - 1]
        shown = escape(text) + "…"
    return shown


def _slack_escape(text: str) -> str:
    # Slack's mrkdwn reads &, < and > as markup: a name could otherwise make a link.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _discord_escape(text: str) -> str:
    # A backslash makes each of these literal: no [masked](link), <@mention>, or emphasis.
    return _DISCORD_MARKUP.sub(r"\\\g<0>", text)


def _facts(value: Any, name: str = "") -> list[tuple[str, str]]:
    """A nested dict as (dotted name, value) pairs, in the payload's order."""
    if isinstance(value, dict):
        return [
            fact
            for key, item in value.items()
            for fact in _facts(item, f"{name}.{key}" if name else str(key))
        ]
    return [(name, "" if value is None else str(value))]


def _readable(iso: str) -> str:
    """``2025-06-01T12:00:00Z`` as ``2025-06-01 12:00 UTC`` (anything else as it is)."""
    try:
        moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return iso
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
