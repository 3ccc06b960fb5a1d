"""Settings, read once from the environment.

Nothing else in Ferryman reads ``os.environ``: every knob is a field here, named
``FERRYMAN_<FIELD>``, so an operator finds all of them in one place (and in
``deploy/env.example``). A bad value stops start-up with one line naming the variable.

Why not pydantic-settings: it would bring pydantic into a server that has no other use
for it, and its errors are multi-line reports of a model's fields, not one line naming
``FERRYMAN_X`` and what it accepts; the checks that span fields (production needs https
URLs, an S3 endpoint needs its credentials) would be validators around it anyway. A
table of one small parser per field, below, is less code than the adapter would be.
"""

from __future__ import annotations

import dataclasses
import email.utils
import enum
import ipaddress
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

PREFIX = "FERRYMAN_"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
_MAX_PRESIGN = 7 * 24 * 3600
_MAX_ARTIFACT = 5 * 1024 * 1024 * 1024  # one S3 PUT, and one CopyObject, hold at most 5 GiB
_LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")
_LOG_FORMATS = ("json", "text")
_SMTP_TLS = ("starttls", "tls", "none")
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class Analytics(enum.StrEnum):
    """The parts of analytics that can be turned on and off (PRIVACY.md says what each
    keeps)."""

    CHECKS = "checks"  # update checks by version, platform, channel and answer
    ACTIVES = "actives"  # exact active installs, from the day an app says it last checked
    ESTIMATES = "estimates"  # estimated daily active installs, from day-keyed sketches
    DOWNLOADS = "downloads"  # downloads by version, platform, channel and country
    HEALTH = "health"  # installs that downloaded a release and did or did not arrive on it


class SettingsError(ValueError):
    """A variable holds a value Ferryman cannot use; the message names it."""


@dataclasses.dataclass(frozen=True, slots=True)
class Settings:
    """Everything the server needs to know about its deployment."""

    database_url: str = "sqlite://var/ferryman.sqlite3"
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    public_url: str = ""
    log_level: str = "INFO"
    log_format: str = "json"
    production: bool = False
    graphiql: bool | None = None
    introspection: bool | None = None
    graphiql_assets: Path = Path("var/graphiql/node_modules")
    s3_endpoint: str | None = None
    s3_region: str = "auto"
    s3_bucket: str = "ferryman"
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None
    download_base_url: str | None = None
    max_upload_bytes: int = 200 * 1024 * 1024
    max_artifact_bytes: int = 2 * 1024 * 1024 * 1024
    presign_seconds: int = 3600
    local_s3_dir: Path = Path("var/s3")
    update_ttl: int = 300
    edge_cache_bytes: int = 64 * 1024 * 1024
    cloudflare_zone_id: str | None = None
    cloudflare_api_token: str | None = None
    cloudflare_api_url: str = "https://api.cloudflare.com/client/v4"
    trusted_proxies: tuple[Network, ...] = ()
    rate_limit_graphql: int = 600
    rate_limit_admin: int = 600
    rate_limit_ci: int = 60
    rate_limit_downloads: int = 300
    rate_limit_updates: int = 600
    rate_limit_auth_failures: int = 20
    rate_limit_console: int = 600
    session_idle_minutes: int = 120
    session_max_hours: int = 24
    graphql_max_depth: int = 10
    graphql_max_tokens: int = 5_000
    graphql_max_aliases: int = 30
    graphql_max_selections: int = 1_000
    graphql_max_repeats: int = 10
    graphql_max_page_size: int = 100
    graphql_max_body_bytes: int = 1024 * 1024
    metrics_token: str | None = None
    link_secret: str | None = None
    cors_origins: tuple[str, ...] = ()
    send_notifications: bool = True
    webhooks_allow_private: bool = False
    webhook_timeout_seconds: int = 15
    notification_lease_margin_seconds: int = 30
    notify_license_expiring_days: int = 14
    smtp_host: str | None = None  # unset: no email
    smtp_port: int = 587
    smtp_tls: str = "starttls"
    smtp_username: str | None = None
    smtp_password: str | None = dataclasses.field(default=None, repr=False)
    smtp_from: str | None = None
    smtp_timeout_seconds: int = 15
    analytics: frozenset[Analytics] = frozenset(Analytics)

    @property
    def base_url(self) -> str:
        """The URL clients reach this server at, without a trailing slash."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def signing_secret(self) -> str:
        """Signs LICENSED apps' download links; every worker must hold the same one."""
        return self.link_secret or self.s3_secret_access_key or ""

    @property
    def graphiql_enabled(self) -> bool:
        return (not self.production) if self.graphiql is None else self.graphiql

    @property
    def introspection_enabled(self) -> bool:
        return (not self.production) if self.introspection is None else self.introspection

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``FERRYMAN_*`` variables; unset ones keep their defaults."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for field in dataclasses.fields(cls):
            name = PREFIX + field.name.upper()
            if name in env:
                values[field.name] = _PARSERS[field.name](name, env[name])
        settings = cls(**values)
        settings._check_together()
        return settings

    @property
    def uses_local_s3(self) -> bool:
        """No S3 endpoint configured: ``ferryman dev`` runs SeaweedFS itself."""
        return self.s3_endpoint is None

    def _check_together(self) -> None:
        if self.s3_endpoint and not (self.s3_access_key_id and self.s3_secret_access_key):
            raise SettingsError(
                f"{PREFIX}S3_ACCESS_KEY_ID and {PREFIX}S3_SECRET_ACCESS_KEY must be set when "
                f"{PREFIX}S3_ENDPOINT is"
            )
        if bool(self.cloudflare_zone_id) != bool(self.cloudflare_api_token):
            raise SettingsError(
                f"{PREFIX}CLOUDFLARE_ZONE_ID and {PREFIX}CLOUDFLARE_API_TOKEN must be set together"
            )
        if self.production:
            for name, url in (
                ("PUBLIC_URL", self.public_url),
                ("DOWNLOAD_BASE_URL", self.download_base_url),
            ):
                if name == "PUBLIC_URL" and not url:
                    raise SettingsError(
                        f"{PREFIX}PUBLIC_URL must be set in production: the https:// URL "
                        "clients reach this server at"
                    )
                if url and not url.startswith("https://"):
                    raise SettingsError(
                        f"{PREFIX}{name} must be an https:// URL in production (update "
                        f"downloads are served over HTTPS only), got {url!r}"
                    )
        if self.smtp_host and not self.smtp_from:
            raise SettingsError(
                f"{PREFIX}SMTP_FROM must be set when {PREFIX}SMTP_HOST is: the address "
                "notification mail comes from, such as Ferryman <ferryman@example.com>"
            )
        if bool(self.smtp_username) != bool(self.smtp_password):
            raise SettingsError(
                f"{PREFIX}SMTP_USERNAME and {PREFIX}SMTP_PASSWORD must be set together"
            )
        if self.max_artifact_bytes > _MAX_ARTIFACT:
            raise SettingsError(
                f"{PREFIX}MAX_ARTIFACT_BYTES must be at most {_MAX_ARTIFACT} (5 GiB: an upload "
                "URL is one S3 PUT, and a verified file one S3 copy), got "
                f"{self.max_artifact_bytes}"
            )
        if self.presign_seconds > _MAX_PRESIGN:
            raise SettingsError(
                f"{PREFIX}PRESIGN_SECONDS must be at most {_MAX_PRESIGN} (7 days, the S3 limit), "
                f"got {self.presign_seconds}"
            )


def _database_url(name: str, raw: str) -> str:
    scheme = urlsplit(raw).scheme
    if scheme not in ("sqlite", "postgres", "postgresql"):
        raise SettingsError(
            f"{name} must start with sqlite:// or postgres://, got {raw!r} "
            "(for example sqlite://var/ferryman.sqlite3 or postgres://user:pass@host:5432/ferryman)"
        )
    if scheme == "postgresql":
        raw = "postgres" + raw[len("postgresql") :]
    return raw


def _port(name: str, raw: str) -> int:
    if not raw.strip().isdigit() or not 1 <= int(raw) <= 65535:
        raise SettingsError(f"{name} must be a port number from 1 to 65535, got {raw!r}")
    return int(raw)


def _flag(name: str, raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise SettingsError(f"{name} must be true or false (also 1/0, yes/no, on/off), got {raw!r}")


def _url(name: str, raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SettingsError(
            f"{name} must be an absolute http(s) URL such as https://updates.example.com, "
            f"got {raw!r}"
        )
    return raw


def _bucket(name: str, raw: str) -> str:
    if not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", raw):
        raise SettingsError(
            f"{name} must be an S3 bucket name: 3 to 63 lowercase letters, digits, dots and "
            f"dashes, got {raw!r}"
        )
    return raw


def _text(name: str, raw: str) -> str:
    if not raw.strip():
        raise SettingsError(f"{name} must not be empty")
    return raw.strip()


def _positive(name: str, raw: str) -> int:
    if not raw.strip().isdigit() or int(raw) < 1:
        raise SettingsError(f"{name} must be a whole number of at least 1, got {raw!r}")
    return int(raw)


def _count(name: str, raw: str) -> int:
    if not raw.strip().isdigit():
        raise SettingsError(f"{name} must be a whole number (0 or more), got {raw!r}")
    return int(raw)


def _log_format(name: str, raw: str) -> str:
    value = raw.strip().lower()
    if value not in _LOG_FORMATS:
        raise SettingsError(f"{name} must be one of {', '.join(_LOG_FORMATS)}, got {raw!r}")
    return value


def _networks(name: str, raw: str) -> tuple[Network, ...]:
    networks = []
    for part in filter(None, (item.strip() for item in raw.split(","))):
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise SettingsError(
                f"{name} must be a comma-separated list of IP addresses or CIDR ranges "
                f"(e.g. 10.0.0.0/8,::1), got {part!r}"
            ) from None
    return tuple(networks)


def _origins(name: str, raw: str) -> tuple[str, ...]:
    origins = []
    for part in filter(None, (item.strip() for item in raw.split(","))):
        parts = urlsplit(part)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path:
            raise SettingsError(
                f"{name} must be a comma-separated list of origins such as "
                f"https://admin.example.com (scheme and host, no path), got {part!r}"
            )
        origins.append(part)
    return tuple(origins)


def _secret(name: str, raw: str) -> str:
    # Kept as given: a password may begin or end with a space.
    if not raw:
        raise SettingsError(f"{name} must not be empty")
    return raw


def _smtp_tls(name: str, raw: str) -> str:
    value = raw.strip().lower()
    if value not in _SMTP_TLS:
        raise SettingsError(
            f"{name} must be starttls (port 587), tls (implicit TLS, port 465) or none, got {raw!r}"
        )
    return value


def _mailbox(name: str, raw: str) -> str:
    _, address = email.utils.parseaddr(raw)
    if "@" not in address or "\n" in raw or "\r" in raw:
        raise SettingsError(
            f"{name} must be an email address, such as ferryman@example.com or "
            f"Ferryman <ferryman@example.com>, got {raw!r}"
        )
    return raw.strip()


def _analytics(name: str, raw: str) -> frozenset[Analytics]:
    parts = {part.strip().lower() for part in raw.split(",")} - {""}
    if parts == {"none"}:
        return frozenset()
    unknown = parts - set(Analytics)
    if unknown:
        raise SettingsError(
            f"{name} must be a comma-separated list of {', '.join(Analytics)}, or none, "
            f"got {', '.join(sorted(unknown))!r}"
        )
    return frozenset(Analytics(part) for part in parts)


def _log_level(name: str, raw: str) -> str:
    level = raw.strip().upper()
    if level not in _LOG_LEVELS:
        raise SettingsError(f"{name} must be one of {', '.join(_LOG_LEVELS)}, got {raw!r}")
    return level


def _host(name: str, raw: str) -> str:
    if not raw.strip():
        raise SettingsError(f"{name} must be a host name or address, got an empty value")
    return raw.strip()


def _path(name: str, raw: str) -> Path:
    if not raw.strip():
        raise SettingsError(f"{name} must be a directory path, got an empty value")
    return Path(raw)


_PARSERS = {
    "database_url": _database_url,
    "host": _host,
    "port": _port,
    "workers": _positive,
    "public_url": _url,
    "log_level": _log_level,
    "log_format": _log_format,
    "production": _flag,
    "graphiql": _flag,
    "introspection": _flag,
    "graphiql_assets": _path,
    "s3_endpoint": _url,
    "s3_region": _text,
    "s3_bucket": _bucket,
    "s3_access_key_id": _text,
    "s3_secret_access_key": _text,
    "download_base_url": _url,
    "max_upload_bytes": _positive,
    "max_artifact_bytes": _positive,
    "presign_seconds": _positive,
    "local_s3_dir": _path,
    "update_ttl": _positive,
    "edge_cache_bytes": _count,
    "cloudflare_zone_id": _text,
    "cloudflare_api_token": _text,
    "cloudflare_api_url": _url,
    "trusted_proxies": _networks,
    "rate_limit_graphql": _count,
    "rate_limit_admin": _count,
    "rate_limit_ci": _count,
    "rate_limit_downloads": _count,
    "rate_limit_updates": _count,
    "rate_limit_auth_failures": _count,
    "rate_limit_console": _count,
    "session_idle_minutes": _positive,
    "session_max_hours": _positive,
    "graphql_max_depth": _positive,
    "graphql_max_tokens": _positive,
    "graphql_max_aliases": _positive,
    "graphql_max_selections": _positive,
    "graphql_max_repeats": _positive,
    "graphql_max_page_size": _positive,
    "graphql_max_body_bytes": _positive,
    "metrics_token": _text,
    "link_secret": _text,
    "cors_origins": _origins,
    "send_notifications": _flag,
    "webhooks_allow_private": _flag,
    "webhook_timeout_seconds": _positive,
    "notification_lease_margin_seconds": _positive,
    "notify_license_expiring_days": _positive,
    "smtp_host": _host,
    "smtp_port": _port,
    "smtp_tls": _smtp_tls,
    "smtp_username": _text,
    "smtp_password": _secret,
    "smtp_from": _mailbox,
    "smtp_timeout_seconds": _positive,
    "analytics": _analytics,
}
