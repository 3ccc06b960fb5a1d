"""A mail server for tests: aiosmtpd on a free loopback port, recording what it accepts.

It speaks STARTTLS or implicit TLS with a certificate made for the run (trusted by
:attr:`Mailbox.client_context` and nothing else), or neither; over TLS it can demand a
login and refuse wrong credentials, as a real server does; and it refuses mail as
scripted.
"""

from __future__ import annotations

import dataclasses
import email
import email.policy
import ipaddress
import ssl
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ferryman.notifications.mail import SmtpMailer
from ferryman.settings import Settings
from tests.services import free_port

HOST = "127.0.0.1"
USERNAME = "ferryman"
PASSWORD = "correct horse battery staple"
SENDER = "Ferryman <ferryman@example.com>"


@dataclasses.dataclass(frozen=True)
class Mail:
    sender: str
    recipients: list[str]
    message: EmailMessage
    authenticated_as: str | None

    @property
    def text(self) -> str:
        body = self.message.get_body(("plain",))
        assert body is not None
        content: str = body.get_content()
        return content.replace("\r\n", "\n")


def certificate() -> tuple[bytes, bytes]:
    """A self-signed certificate for 127.0.0.1 and localhost, and its key (PEM)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Ferryman test mail server")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address(HOST)), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


class Mailbox:
    """Accepts mail (after the login, when ``login``) unless a refusal is scripted."""

    def __init__(self, *, tls: str = "none", login: bool = False) -> None:
        assert tls != "none" or not login, "a login is only asked for over TLS"
        self.tls = tls  # as FERRYMAN_SMTP_TLS: starttls, tls or none
        self.login = login
        self.port = free_port()
        self.received: list[Mail] = []
        self.refusals: list[str] = []  # SMTP answers to DATA, one per mail, before accepting
        self.arrived = threading.Condition()
        self._cert, self._key = certificate()

    @property
    def client_context(self) -> ssl.SSLContext:
        """What a client needs to trust this server's certificate."""
        return ssl.create_default_context(cadata=self._cert.decode())

    def settings(self, base: Settings, **changes: Any) -> Settings:
        """``base`` sending mail here (with the right credentials, unless changed)."""
        smtp = {
            "smtp_host": HOST,
            "smtp_port": self.port,
            "smtp_tls": self.tls,
            "smtp_from": SENDER,
            "smtp_username": USERNAME if self.login else None,
            "smtp_password": PASSWORD if self.login else None,
            "smtp_timeout_seconds": 5,
        }
        return dataclasses.replace(base, **{**smtp, **changes})

    def mailer(self, settings: Settings) -> SmtpMailer:
        """A mailer with ``settings`` that trusts this server's certificate."""
        return SmtpMailer(settings, tls_context=self.client_context)

    def refuse(self, *answers: str) -> None:
        self.refusals.extend(answers)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Mail]:
        """Block until ``count`` mails arrived (AssertionError after ``timeout``)."""
        deadline = time.monotonic() + timeout
        with self.arrived:
            while len(self.received) < count:
                left = deadline - time.monotonic()
                assert left > 0, f"{len(self.received)} of {count} mails arrived"
                self.arrived.wait(left)
            return list(self.received)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.arrived:
            if self.refusals:
                return self.refusals.pop(0)
            message = email.message_from_bytes(envelope.content, policy=email.policy.default)
            assert isinstance(message, EmailMessage)
            login = session.auth_data.login.decode() if session.authenticated else None
            self.received.append(Mail(envelope.mail_from, list(envelope.rcpt_tos), message, login))
            self.arrived.notify_all()
        return "250 OK"

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and (
            auth_data.login.decode(),
            auth_data.password.decode(),
        ) == (USERNAME, PASSWORD)
        return AuthResult(success=ok, handled=False, auth_data=auth_data)

    @contextmanager
    def running(self) -> Iterator[Mailbox]:
        options: dict[str, Any] = {}
        if self.tls != "none":
            with tempfile.TemporaryDirectory() as folder:
                cert, key = Path(folder) / "cert.pem", Path(folder) / "key.pem"
                cert.write_bytes(self._cert)
                key.write_bytes(self._key)
                context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
                context.load_cert_chain(cert, key)
            if self.tls == "tls":
                options["ssl_context"] = context
            else:
                options |= {"tls_context": context, "require_starttls": True}
        if self.login:
            options |= {"authenticator": self._authenticate, "auth_required": True}
        controller = Controller(self, hostname=HOST, port=self.port, **options)
        controller.start()
        try:
            yield self
        finally:
            controller.stop()
