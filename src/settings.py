"""Settings, read once from the environment.

Nothing else in Ferryman reads ``os.environ``: every knob is a field here, named
``FERRYMAN_<FIELD>``, so an operator finds all of them in one place (and in
``deploy/env.example``). A bad value stops start-up with one line naming the variable.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

PREFIX = "FERRYMAN_"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
_LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")


class SettingsError(ValueError):
    """A variable holds a value Ferryman cannot use; the message names it."""


@dataclasses.dataclass(frozen=True, slots=True)
class Settings:
    """Everything the server needs to know about its deployment."""

    database_url: str = "sqlite://var/ferryman.sqlite3"
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str = ""
    log_level: str = "INFO"
    production: bool = False
    graphiql: bool | None = None
    introspection: bool | None = None
    graphiql_assets: Path = Path("var/graphiql/node_modules")

    @property
    def base_url(self) -> str:
        """The URL clients reach this server at, without a trailing slash."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

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
        return cls(**values)


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
    "public_url": _url,
    "log_level": _log_level,
    "production": _flag,
    "graphiql": _flag,
    "introspection": _flag,
    "graphiql_assets": _path,
}


def configure_logging(settings: Settings) -> None:
    """One log format for the whole process, at the configured level."""
    logging.basicConfig(
        level=getattr(logging, settings.log_level),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
