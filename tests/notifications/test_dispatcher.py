"""The dispatcher against real receivers: signed, retried on Standard Webhooks' schedule
(checked with an injected clock, not sleeps), Retry-After honoured, 410 disables, and
one slow endpoint holds up no other."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from datetime import timedelta

import pytest
from tortoise.transactions import in_transaction

from ferryman.models import notification as notifications
from ferryman.models import webhook as webhooks
from ferryman.models.actor import Actor
from ferryman.models.notification import Delivery, DeliveryStatus, Notification
from ferryman.models.webhook import Event, Kind, Webhook, WebhookChanges
from ferryman.notifications.dispatcher import Dispatcher
from ferryman.settings import Settings
from tests.conftest import GraphQL
from tests.notifications.conftest import LINUX, Clock, endpoint, only_delivery, send
from tests.support.receiver import Answer, Receiver
from tests.support.shipping import Shipyard


async def test_a_publish_is_delivered_signed_to_the_apps_and_global_listeners(
    yard: Shipyard, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    ours, secret = await endpoint(receiver.url, yard.app_id)
    everyone, other_secret = await endpoint(receiver.url + "?global")
    await endpoint(receiver.url + "?keys", yard.app_id, events=["api_key.created"])
    assert secret is not None
    assert other_secret is not None
    assert secret.startswith("whsec_")
    assert len(secret) > 40

    release_id = await yard.release("1.2.0", LINUX)
    assert await send(dispatcher) == 2

    received = receiver.wait_for(2)
    assert sorted(r.path for r in received) == ["/hook", "/hook?global"]
    for request in received:
        receiver_secret = secret if request.path == "/hook" else other_secret
        receiver.secrets = [receiver_secret]
        assert receiver._verify(request.headers, request.body), request.headers
        assert request.headers["webhook-id"].startswith("msg_")
        assert request.json["type"] == "release.published"
        data = request.json["data"]
        assert data["app"]["slug"] == "my-app"
        assert data["release"] == {
            "id": release_id,
            "version": "1.2.0",
            "channel": "stable",
            "status": "published",
            "rollout_percent": 100,
        }
        assert data["actor"]["kind"] == "api_key"
    assert received[0].headers["webhook-id"] == received[1].headers["webhook-id"]
    states = await Delivery.all().values_list("webhook_id", "status", "attempts")
    assert sorted(states) == sorted(
        [(ours.id, DeliveryStatus.SUCCEEDED, 1), (everyone.id, DeliveryStatus.SUCCEEDED, 1)]
    )
    assert await send(dispatcher) == 0  # nothing is sent twice


async def test_a_change_that_rolls_back_sends_nothing(
    yard: Shipyard, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    await endpoint(receiver.url, yard.app_id)

    async def failing_change() -> None:
        async with in_transaction():
            await notifications.emit(Event.RELEASE_ARCHIVED, yard.app_id, {"app": {}})
            raise RuntimeError("the change fails after its event was written")

    with pytest.raises(RuntimeError):
        await failing_change()

    assert await Notification.all().count() == 0
    assert await Delivery.all().count() == 0
    assert await send(dispatcher) == 0


async def test_failures_are_retried_on_the_schedule_with_the_same_id(
    yard: Shipyard, receiver: Receiver, dispatcher: Dispatcher, clock: Clock
) -> None:
    await endpoint(receiver.url, yard.app_id)
    receiver.answer(Answer(500), Answer(503))
    await yard.release("1.0.0", LINUX)

    assert await send(dispatcher) == 1
    first = await only_delivery()
    assert (first.status, first.attempts, first.last_status_code) == (
        DeliveryStatus.PENDING,
        1,
        500,
    )
    waited = first.next_attempt_at - clock.now
    assert timedelta(seconds=4.5) <= waited <= timedelta(seconds=5.5), waited

    clock.advance(timedelta(seconds=4))
    assert await send(dispatcher) == 0, "retried before its time"
    clock.advance(timedelta(seconds=2))
    assert await send(dispatcher) == 1
    second = await only_delivery()
    assert (second.attempts, second.last_status_code, second.last_error) == (2, 503, "HTTP 503")
    waited = second.next_attempt_at - clock.now
    assert timedelta(seconds=270) <= waited <= timedelta(seconds=330), waited

    clock.advance(timedelta(seconds=331))
    assert await send(dispatcher) == 1
    done = await only_delivery()
    assert (done.status, done.attempts, done.last_status_code) == (
        DeliveryStatus.SUCCEEDED,
        3,
        200,
    )
    assert done.last_error is None
    ids = {r.headers["webhook-id"] for r in receiver.wait_for(3)}
    assert len(ids) == 1, "every retry carries the message's id"


async def test_retry_after_is_honoured(
    yard: Shipyard, receiver: Receiver, dispatcher: Dispatcher, clock: Clock
) -> None:
    await endpoint(receiver.url, yard.app_id)
    receiver.answer(Answer(429, {"Retry-After": "120"}))
    await yard.release("1.0.0", LINUX)

    await send(dispatcher)

    delivery = await only_delivery()
    assert delivery.next_attempt_at - clock.now >= timedelta(seconds=119)
    clock.advance(timedelta(seconds=60))
    assert await send(dispatcher) == 0


async def test_a_huge_retry_after_waits_a_day_at_most(
    yard: Shipyard, receiver: Receiver, dispatcher: Dispatcher, clock: Clock
) -> None:
    await endpoint(receiver.url, yard.app_id)
    receiver.answer(Answer(503, {"Retry-After": "9" * 30}))  # no timedelta holds this
    await yard.release("1.0.0", LINUX)

    await send(dispatcher)

    delivery = await only_delivery()
    assert (delivery.attempts, delivery.last_status_code) == (1, 503), "the attempt is recorded"
    waited = delivery.next_attempt_at - clock.now
    assert timedelta(hours=23, minutes=59) <= waited <= timedelta(hours=24), waited


async def test_a_delivery_fails_for_good_after_the_last_attempt(
    yard: Shipyard, receiver: Receiver, dispatcher: Dispatcher, clock: Clock
) -> None:
    await endpoint(receiver.url, yard.app_id)
    receiver.answer(*[Answer(500)] * 20)
    await yard.release("1.0.0", LINUX)

    rounds = 0
    while (await only_delivery()).status is DeliveryStatus.PENDING:
        assert await send(dispatcher) == 1
        clock.move_to((await only_delivery()).next_attempt_at)
        rounds += 1
        assert rounds <= 10

    delivery = await only_delivery()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.FAILED, 10)
    assert len(receiver.received) == 10


async def test_gone_disables_the_endpoint(
    yard: Shipyard, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    gone, _ = await endpoint(receiver.url, yard.app_id)
    receiver.answer(Answer(410), Answer(410))
    await yard.release("1.0.0", LINUX)
    await yard.release("1.1.0", LINUX)

    assert await send(dispatcher) >= 1

    endpoint_now = await Webhook.get(id=gone.id)
    assert not endpoint_now.enabled
    assert endpoint_now.disabled_reason == "the endpoint answered 410 Gone"
    assert await Delivery.filter(status=DeliveryStatus.PENDING).count() == 0
    assert await Delivery.filter(status=DeliveryStatus.FAILED).count() == 2
    await yard.release("1.2.0", LINUX)
    assert await Delivery.all().count() == 2, "a disabled endpoint hears nothing more"


async def test_a_slow_endpoint_delays_no_other(
    yard: Shipyard, settings: Settings, clock: Clock
) -> None:
    # A timeout no busy machine reaches: the slow one answers only when the test lets it.
    patient = dataclasses.replace(
        settings, webhooks_allow_private=True, webhook_timeout_seconds=120
    )
    dispatcher = Dispatcher(patient, clock=clock)
    held = threading.Event()
    with Receiver().running() as slow, Receiver().running() as quick:
        slow.answer(Answer(200, hold=held))
        await endpoint(slow.url, yard.app_id)
        await endpoint(quick.url, yard.app_id)
        await yard.release("1.0.0", LINUX)
        try:
            assert await dispatcher.tick() == 2
            # Taken now: an attempt that ends leaves the dispatcher's own set.
            attempts = set(dispatcher._tasks)
            await asyncio.to_thread(slow.wait_for, 1)
            await asyncio.to_thread(quick.wait_for, 1)
            # The first attempt to end is the quick one's, recorded while the other waits.
            await asyncio.wait(attempts, return_when=asyncio.FIRST_COMPLETED)
            assert (await Delivery.get(webhook__url=quick.url)).status is DeliveryStatus.SUCCEEDED
            waiting = await Delivery.get(webhook__url=slow.url)
            assert waiting.attempts == 0, "the slow one is still waiting for its answer"
            held.set()
            await dispatcher.drain()
        finally:
            held.set()
            await dispatcher.stop()

    assert (await Delivery.get(webhook__url=slow.url)).status is DeliveryStatus.SUCCEEDED


async def test_an_endpoint_silent_past_the_timeout_is_tried_again(
    yard: Shipyard, settings: Settings, clock: Clock
) -> None:
    hasty = dataclasses.replace(settings, webhooks_allow_private=True, webhook_timeout_seconds=1)
    dispatcher = Dispatcher(hasty, clock=clock)
    held = threading.Event()
    with Receiver().running() as silent:
        silent.answer(Answer(200, hold=held))
        await endpoint(silent.url, yard.app_id)
        await yard.release("1.0.0", LINUX)
        try:
            assert await dispatcher.tick() == 1
            await dispatcher.drain()
        finally:
            held.set()
            await dispatcher.stop()

    timed_out = await Delivery.get(webhook__url=silent.url)
    assert timed_out.last_error == "no answer within 1 s"
    assert (timed_out.status, timed_out.attempts) == (DeliveryStatus.PENDING, 1)


async def test_an_endpoint_gets_at_most_its_share_at_once(
    yard: Shipyard, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    await endpoint(receiver.url, yard.app_id, max_in_flight=1)
    receiver.answer(Answer(200, delay=0.3), Answer(200, delay=0.3))
    await yard.release("1.0.0", LINUX)
    await yard.release("1.1.0", LINUX)

    assert await dispatcher.tick() == 1, "the second waits for the first"
    await dispatcher.drain()
    assert await send(dispatcher) == 1
    assert await Delivery.filter(status=DeliveryStatus.SUCCEEDED).count() == 2


async def test_a_rotated_secret_signs_beside_the_new_one(
    yard: Shipyard, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    hook, old = await endpoint(receiver.url, yard.app_id)
    _, new = await webhooks.rotate_secret(Actor.console(), hook.id)
    assert old is not None
    assert new != old
    await yard.release("1.0.0", LINUX)

    await send(dispatcher)

    (request,) = receiver.wait_for(1)
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    receiver.secrets = [old, new]
    assert receiver._verify(request.headers, request.body)
    receiver.secrets = ["whsec_" + "QUFB" * 8]
    assert receiver._verify(request.headers, request.body) is False


async def test_internal_targets_are_refused_at_delivery_unless_allowed(
    yard: Shipyard, receiver: Receiver, settings: Settings, clock: Clock
) -> None:
    await endpoint(receiver.url, yard.app_id)  # saved while internal targets were allowed
    await yard.release("1.0.0", LINUX)
    strict = Dispatcher(settings, clock=clock)
    try:
        await send(strict)
    finally:
        await strict.stop()

    delivery = await only_delivery()
    assert delivery.status is DeliveryStatus.PENDING
    assert delivery.last_error is not None
    assert "127.0.0.1, an internal address" in delivery.last_error
    assert receiver.received == []


async def test_internal_targets_are_refused_when_saved(gql: GraphQL, yard: Shipyard) -> None:
    for url in ("http://127.0.0.1:9/hook", "http://[::1]/x", "http://169.254.169.254/latest"):
        with pytest.raises(Exception, match="internal address") as refused:
            await webhooks.create(
                Actor.console(),
                yard.app_id,
                Kind.WEBHOOK,
                WebhookChanges(url=url),
                allow_private=False,
            )
        assert refused.type.__name__ == "InvalidInput"
    assert await Webhook.all().count() == 0


async def test_two_dispatchers_ticking_at_once_claim_disjoint_deliveries(
    yard: Shipyard, receiver: Receiver, settings: Settings, clock: Clock
) -> None:
    for n in range(3):
        await endpoint(f"{receiver.url}?{n}", yard.app_id, max_in_flight=webhooks.IN_FLIGHT_MAX)
    for n in range(5):
        await yard.release(f"1.{n}.0", LINUX)
    allowed = dataclasses.replace(settings, webhooks_allow_private=True)
    workers = [Dispatcher(allowed, clock=clock) for _ in range(2)]
    try:
        claimed = await asyncio.gather(*(worker.tick() for worker in workers))
        for worker in workers:
            await worker.drain()
    finally:
        for worker in workers:
            await worker.stop()

    # Both read the same 15 due deliveries and tried each: every one claimed, none by
    # both. (Which wins is the database's affair: on SQLite, whose one connection runs
    # the claims in turn, the first to ask wins them all.)
    assert sum(claimed) == 15, claimed
    sent = [(r.path, r.headers["webhook-id"]) for r in receiver.wait_for(15)]
    assert len(set(sent)) == len(sent) == 15
    states = await Delivery.all().values_list("status", "attempts")
    assert states == [(DeliveryStatus.SUCCEEDED, 1)] * 15
