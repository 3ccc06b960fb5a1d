"""Email for EMAIL endpoints: one plain-text mail per message to the endpoint's
recipients, through the operator's SMTP server (``FERRYMAN_SMTP_*``).

A mail that is not accepted raises :class:`MailFailed` with the server's reason, and
the dispatcher retries it on the schedule. A retried mail keeps its ``Message-ID``
(the message's and the endpoint's ids), as a webhook keeps its ``webhook-id``. The
password goes to the server and nowhere else: no error or log line holds it.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import ssl
from datetime import UTC, datetime
from email.message import EmailMessage

import aiosmtplib

from ferryman.models.notification import Notification
from ferryman.models.webhook import Webhook
from ferryman.notifications.dispatcher import MailFailed
from ferryman.notifications.message import mail
from ferryman.settings import Settings

log = logging.getLogger("ferryman.notifications")


class SmtpMailer:
    """Sends through one SMTP server, connecting for each mail (notifications are few,
    and a connection kept open would only be dropped by the server between them)."""

    def __init__(self, settings: Settings, *, tls_context: ssl.SSLContext | None = None) -> None:
        if not (settings.smtp_host and settings.smtp_from):
            raise ValueError("an SMTP mailer needs FERRYMAN_SMTP_HOST and FERRYMAN_SMTP_FROM")
        self.host = settings.smtp_host
        self.port = settings.smtp_port
        self.tls = settings.smtp_tls
        self.username = settings.smtp_username
        self._password = settings.smtp_password
        self.sender = settings.smtp_from
        self.timeout = float(settings.smtp_timeout_seconds)
        self.base_url = settings.base_url
        self.tls_context = tls_context  # None: the system's trusted certificates
        domain = email.utils.parseaddr(self.sender)[1].rpartition("@")[2]
        self._id_domain = domain or "ferryman"

    @property
    def server(self) -> str:
        return f"the SMTP server {self.host}:{self.port}"

    def compose(self, endpoint: Webhook, notification: Notification) -> EmailMessage:
        subject, body = mail(notification.message, self.base_url)
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = ", ".join(endpoint.addresses)
        message["Subject"] = subject
        message["Date"] = email.utils.format_datetime(datetime.now(UTC))
        message["Message-ID"] = f"<{notification.id}.{endpoint.id}@{self._id_domain}>"
        message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no out-of-office replies
        message.set_content(body)
        return message

    async def send(self, endpoint: Webhook, notification: Notification) -> None:
        message = self.compose(endpoint, notification)
        try:
            # aiosmtplib's timeout bounds each step; this bounds the whole exchange,
            # which must end within the delivery's lease.
            async with asyncio.timeout(self.timeout):
                refused, _ = await aiosmtplib.send(
                    message,
                    hostname=self.host,
                    port=self.port,
                    username=self.username,
                    password=self._password,
                    use_tls=self.tls == "tls",
                    start_tls=self.tls == "starttls",
                    timeout=self.timeout,
                    tls_context=self.tls_context,
                )
        except TimeoutError:
            raise MailFailed(f"{self.server} did not answer within {self.timeout:.0f} s") from None
        except aiosmtplib.SMTPAuthenticationError as error:
            raise MailFailed(
                f"{self.server} refused the login of {self.username!r}: "
                f"{error.code} {error.message}"
            ) from None
        except aiosmtplib.SMTPRecipientsRefused as error:
            reasons = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in error.recipients)
            raise MailFailed(f"{self.server} refused every recipient ({reasons})") from None
        except aiosmtplib.SMTPResponseException as error:
            raise MailFailed(f"{self.server} answered {error.code} {error.message}") from None
        except (aiosmtplib.SMTPException, OSError) as error:
            raise MailFailed(f"could not send through {self.server}: {error}") from None
        if refused:  # the others have it; sending again would repeat it to them
            log.warning(
                "notification %s: %s refused %s", notification.id, self.server, ", ".join(refused)
            )
