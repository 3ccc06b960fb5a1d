"""Email endpoints against a real SMTP server (aiosmtpd on loopback): a login it checks,
STARTTLS and implicit TLS with a certificate made for the run, refusals retried on the
schedule, and the reason of every failure recorded without the password."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Iterator

import pytest

from ferryman.models import app as apps
from ferryman.models.actor import Actor, KeyScope
from ferryman.models.notification import DeliveryStatus
from ferryman.models.webhook import Kind
from ferryman.notifications.dispatcher import Dispatcher
from ferryman.notifications.mail import SmtpMailer
from ferryman.settings import Settings
from tests.conftest import make_key, peer, serving
from tests.notifications.conftest import LINUX, Clock, endpoint, only_delivery, send, settled
from tests.support.ci import body, post
from tests.support.mailbox import PASSWORD, SENDER, USERNAME, Mailbox
from tests.support.shipping import Shipyard
from tests.support.tauri_files import APP_PUB

PUBLIC_URL = "https://updates.example.com"
RECIPIENTS = ["ops@example.com", "release-team@example.org"]


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with Mailbox(tls="starttls", login=True).running() as running:
        yield running


async def test_a_refused_ci_submission_reaches_an_email_endpoint(settings: Settings) -> None:
    # The app's own dispatcher, with the mailer its lifespan builds from the settings:
    # a plain SMTP server, since that mailer trusts only the system's certificates.
    with Mailbox().running() as mailbox:
        configured = mailbox.settings(settings, public_url=PUBLIC_URL)
        async with serving(configured, send_notifications=True) as app, peer(app) as client:
            created = await apps.create(
                Actor.console(), apps.AppChanges(slug="my-app", name="My App", public_key=APP_PUB)
            )
            ci_key = await make_key(KeyScope.CI, created.id, name="GitHub Actions")
            await endpoint(
                None,
                created.id,
                Kind.EMAIL,
                recipients=RECIPIENTS,
                events=["ci.submission_failed"],
            )
            await endpoint(
                None,
                created.id,
                Kind.EMAIL,
                recipients=["keys@example.com"],
                events=["api_key.created"],
            )

            submission = body()
            submission["artifacts"][0]["signature"] = "not a minisign signature"
            refused = await post(client, ci_key, submission)
            assert refused.status_code == 400, refused.text

            (mail,) = await asyncio.to_thread(mailbox.wait_for, 1)
            (delivery,) = await settled(1)
            assert delivery.status is DeliveryStatus.SUCCEEDED

    refusal = "signature is not base64 the updater can decode"
    assert mail.recipients == RECIPIENTS
    assert mail.authenticated_as is None
    assert mail.message["From"] == SENDER
    assert mail.message["To"] == ", ".join(RECIPIENTS)
    subject = mail.message["Subject"]
    assert subject.startswith(f"My App 1.2.3: a CI submission was refused ({refusal}")
    assert subject.endswith(") by GitHub Actions")
    assert mail.message["Auto-Submitted"] == "auto-generated"
    text = mail.text
    assert text.startswith(f"My App 1.2.3: a CI submission was refused ({refusal}")
    assert f"\n{PUBLIC_URL}/console/apps/my-app\n" in text
    for fact in (
        "event: ci.submission_failed",
        "app.slug: my-app",
        "version: 1.2.3",
        "error.code: INVALID_INPUT",
        f"error.message: {refusal}",
        "actor.kind: api_key",
        "actor.name: GitHub Actions",
    ):
        assert f"\n{fact}" in text, (fact, text)
    assert len(mailbox.received) == 1, "the key endpoint hears nothing of this"


# aiosmtpd offers AUTH over STARTTLS only: it does not count implicit TLS as TLS.
@pytest.mark.parametrize(("tls", "login"), [("starttls", True), ("tls", False)])
async def test_mail_goes_over_tls_to_a_server_whose_certificate_is_trusted(
    yard: Shipyard, settings: Settings, clock: Clock, tls: str, login: bool
) -> None:
    with Mailbox(tls=tls, login=login).running() as mailbox:
        configured = mailbox.settings(settings)
        await endpoint(None, yard.app_id, Kind.EMAIL, recipients=RECIPIENTS)
        release_id = await yard.release("1.2.0", LINUX)

        untrusting = Dispatcher(configured, mailer=SmtpMailer(configured), clock=clock)
        try:
            await send(untrusting)
        finally:
            await untrusting.stop()
        refused = await only_delivery()
        assert refused.status is DeliveryStatus.PENDING
        assert refused.last_error is not None
        assert "CERTIFICATE_VERIFY_FAILED" in refused.last_error, refused.last_error
        assert mailbox.received == []

        sender = Dispatcher(configured, mailer=mailbox.mailer(configured), clock=clock)
        try:
            clock.move_to(refused.next_attempt_at)
            assert await send(sender) == 1
        finally:
            await sender.stop()
        (mail,) = mailbox.wait_for(1)

    assert (await only_delivery()).status is DeliveryStatus.SUCCEEDED
    assert mail.authenticated_as == (USERNAME if login else None)
    assert mail.message["Subject"] == "my-app 1.2.0 on stable published by global admin"
    assert f"/console/apps/my-app/releases/{release_id}\n" in mail.text
    notification_id = (await only_delivery()).notification_id
    assert mail.message["Message-ID"].strip().startswith(f"<{notification_id}.whk_")


async def test_a_refusing_server_is_retried_on_the_schedule(
    yard: Shipyard, settings: Settings, clock: Clock, mailbox: Mailbox
) -> None:
    configured = mailbox.settings(settings)
    await endpoint(None, yard.app_id, Kind.EMAIL, recipients=RECIPIENTS)
    mailbox.refuse("451 4.3.0 Mailbox busy, try again later")
    await yard.release("1.2.0", LINUX)
    sender = Dispatcher(configured, mailer=mailbox.mailer(configured), clock=clock)
    try:
        assert await send(sender) == 1
        first = await only_delivery()
        assert first.status is DeliveryStatus.PENDING
        assert first.last_error == (
            f"the SMTP server 127.0.0.1:{mailbox.port} answered 451 4.3.0 Mailbox busy, "
            "try again later"
        )
        assert mailbox.received == []

        clock.move_to(first.next_attempt_at)
        assert await send(sender) == 1
    finally:
        await sender.stop()
    done = await only_delivery()
    assert (done.status, done.attempts, done.last_error) == (DeliveryStatus.SUCCEEDED, 2, None)
    assert len(mailbox.wait_for(1)) == 1


async def test_an_unreachable_server_is_a_failed_attempt_retried_later(
    yard: Shipyard, settings: Settings, clock: Clock
) -> None:
    gone = Mailbox()  # never started: nothing listens on its port
    configured = gone.settings(settings)
    await endpoint(None, yard.app_id, Kind.EMAIL, recipients=RECIPIENTS)
    await yard.release("1.2.0", LINUX)
    sender = Dispatcher(configured, mailer=SmtpMailer(configured), clock=clock)
    try:
        await send(sender)
    finally:
        await sender.stop()
    delivery = await only_delivery()
    assert delivery.status is DeliveryStatus.PENDING
    assert delivery.last_error is not None
    assert delivery.last_error.startswith(
        f"could not send through the SMTP server 127.0.0.1:{gone.port}: "
    ), delivery.last_error


async def test_wrong_credentials_fail_the_attempt_with_the_reason_and_no_password(
    yard: Shipyard,
    settings: Settings,
    clock: Clock,
    mailbox: Mailbox,
    caplog: pytest.LogCaptureFixture,
) -> None:
    wrong = "not-the-password-" + PASSWORD[:4]
    configured = mailbox.settings(settings, smtp_password=wrong)
    await endpoint(None, yard.app_id, Kind.EMAIL, recipients=RECIPIENTS)
    await yard.release("1.2.0", LINUX)
    sender = Dispatcher(configured, mailer=mailbox.mailer(configured), clock=clock)
    with caplog.at_level(logging.DEBUG):
        try:
            await send(sender)
        finally:
            await sender.stop()

    delivery = await only_delivery()
    assert delivery.status is DeliveryStatus.PENDING
    assert delivery.last_error == (
        f"the SMTP server 127.0.0.1:{mailbox.port} refused the login of 'ferryman': "
        "535 5.7.8 Authentication credentials invalid"
    )
    assert mailbox.received == []
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "refused the login" in logged  # the attempt was logged ...
    assert wrong not in logged  # ... without the password
    assert wrong not in repr(configured)


def test_a_mailer_needs_a_server_and_a_sender(settings: Settings) -> None:
    with pytest.raises(ValueError, match="FERRYMAN_SMTP_HOST and FERRYMAN_SMTP_FROM"):
        SmtpMailer(dataclasses.replace(settings, smtp_host="smtp.example.com"))
