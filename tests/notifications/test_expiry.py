"""Licence expiry announced by the periodic check, with an injected clock: a licence
about to end is announced once as expiring, one that just ended once as expired, one
far from its end not at all, however many checks run, and at the same moment."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from starlette.applications import Starlette

from ferryman.models import license as licenses
from ferryman.models.actor import Actor
from ferryman.models.notification import Notification
from ferryman.models.webhook import Kind
from ferryman.notifications.dispatcher import Dispatcher
from ferryman.notifications.expiry import ExpiryCheck
from ferryman.settings import Settings
from tests.conftest import serving
from tests.notifications.conftest import Clock, endpoint, send
from tests.support.licences import DAY, licensed_app, new_license
from tests.support.mailbox import Mailbox
from tests.support.receiver import Receiver

EVENTS = ["license.expiring", "license.expired"]


async def licences(now: datetime) -> dict[str, str]:
    """An app's licences, by how they end: their ids."""
    app = await licensed_app("lic-app")
    ends = {"in 10 days": -10, "yesterday": 1, "in 30 days": -30, "revoked, in 5 days": -5}
    made = {}
    for name, end in ends.items():
        _, licence = await new_license(app, now, [(300, end)])
        made[name] = licence.id
    await licenses.revoke(Actor.console(), made["revoked, in 5 days"], "refunded")
    return made


async def announced() -> set[tuple[str, str]]:
    """Each message's licence and type."""
    return {(n.message["data"]["license"]["id"], n.type.value) for n in await Notification.all()}


async def test_an_expiry_is_announced_once_whatever_the_checks(
    app: Starlette, receiver: Receiver, dispatcher: Dispatcher, clock: Clock
) -> None:
    made = await licences(clock.now)
    await endpoint(receiver.url, events=EVENTS)
    check = ExpiryCheck(14, clock=clock)

    assert await check.check() == 2
    assert await check.check() == 0
    clock.advance(timedelta(hours=5))
    assert await check.check() == 0, "a later look finds them announced"
    first = {(made["in 10 days"], "license.expiring"), (made["yesterday"], "license.expired")}
    assert await announced() == first

    assert await send(dispatcher) == 2
    by_type = {r.json["type"]: r.json["data"] for r in receiver.wait_for(2)}
    expiring = by_type["license.expiring"]
    assert expiring["app"]["slug"] == "lic-app"
    assert expiring["license"]["id"] == made["in 10 days"]
    assert expiring["license"]["customer"] == "ACME"
    assert expiring["license"]["status"] == "ACTIVE"
    assert expiring["license"]["prefix"].startswith("lk_")
    ends_at = datetime.fromisoformat(expiring["license"]["expires_at"])
    assert abs(ends_at - (clock.now - timedelta(hours=5) + 10 * DAY)) < timedelta(minutes=1)
    assert by_type["license.expired"]["license"]["id"] == made["yesterday"]

    # Sixteen days on, the first ended six days ago; the one of 30 days is within 14.
    clock.advance(16 * DAY)
    assert await check.check() == 2
    assert await announced() - first == {
        (made["in 10 days"], "license.expired"),
        (made["in 30 days"], "license.expiring"),
    }


async def test_two_workers_checking_at_once_announce_each_expiry_once(
    app: Starlette, receiver: Receiver, clock: Clock
) -> None:
    made = await licences(clock.now)
    await endpoint(receiver.url, events=EVENTS)
    workers = [ExpiryCheck(14, clock=clock) for _ in range(4)]

    counts = await asyncio.gather(*(worker.check() for worker in workers))

    assert sum(counts) == 2, counts
    assert await Notification.all().count() == 2
    assert await announced() == {
        (made["in 10 days"], "license.expiring"),
        (made["yesterday"], "license.expired"),
    }


async def test_a_renewed_licence_is_announced_again_as_its_new_end_nears(
    app: Starlette, receiver: Receiver, clock: Clock
) -> None:
    made = await licences(clock.now)
    await endpoint(receiver.url, events=["license.expiring"])
    check = ExpiryCheck(14, clock=clock)
    assert await check.check() == 1

    renewed = made["in 10 days"]
    await licenses.renew(Actor.console(), renewed, None, clock.now + 40 * DAY)
    clock.advance(20 * DAY)  # the old end has passed; the new one is 20 days away
    assert await check.check() == 1  # only the one that was 30 days away
    clock.advance(10 * DAY)
    assert await check.check() == 1

    ids = [n.message["data"]["license"]["id"] for n in await Notification.all()]
    assert sorted(ids) == sorted([renewed, made["in 30 days"], renewed])


async def test_nothing_is_written_when_nobody_listens(app: Starlette, clock: Clock) -> None:
    await licences(clock.now)
    assert await ExpiryCheck(14, clock=clock).check() == 0
    assert await Notification.all().count() == 0


async def test_an_email_endpoint_receives_the_expiry_mail(
    app: Starlette, settings: Settings, clock: Clock
) -> None:
    made = await licences(clock.now)
    await endpoint(None, kind=Kind.EMAIL, recipients=["sales@example.com"], events=EVENTS[:1])
    await ExpiryCheck(14, clock=clock).check()

    with Mailbox(tls="starttls", login=True).running() as mailbox:
        configured = mailbox.settings(settings, public_url="https://updates.example.com")
        sender = Dispatcher(configured, mailer=mailbox.mailer(configured), clock=clock)
        try:
            assert await send(sender) == 1
        finally:
            await sender.stop()
        (mail,) = mailbox.wait_for(1)

    ends = (await licenses.License.get(id=made["in 10 days"]).prefetch_related("periods")).periods
    (period,) = ends
    when = period.ends_at.strftime("%Y-%m-%d %H:%M UTC")
    assert mail.recipients == ["sales@example.com"]
    assert mail.message["Subject"] == f"lic-app: the licence of ACME expires on {when}"
    link = f"https://updates.example.com/console/apps/lic-app/licences/{made['in 10 days']}"
    assert f"\n{link}\n" in mail.text
    assert "\nlicense.status: ACTIVE\n" in mail.text


async def test_each_worker_looks_as_it_starts_and_its_dispatcher_sends(
    settings: Settings, receiver: Receiver
) -> None:
    async with serving(settings):
        made = await licences(datetime.now(UTC))
        await endpoint(receiver.url, events=EVENTS)

    # As `ferryman serve` runs: sending, and looking for expiries as it starts.
    async with serving(settings, send_notifications=True, webhooks_allow_private=True):
        received = await asyncio.to_thread(receiver.wait_for, 2)

    assert {(r.json["data"]["license"]["id"], r.json["type"]) for r in received} == {
        (made["in 10 days"], "license.expiring"),
        (made["yesterday"], "license.expired"),
    }
