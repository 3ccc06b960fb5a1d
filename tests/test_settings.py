from pathlib import Path

import pytest

from ferryman.settings import Analytics, Settings, SettingsError
from tests.support.cli import ferryman


def test_defaults_run_on_an_embedded_sqlite_file() -> None:
    settings = Settings.from_env({})
    assert settings.database_url == "sqlite://var/ferryman.sqlite3"
    assert settings.base_url == "http://127.0.0.1:8000"
    assert settings.graphiql_enabled
    assert settings.introspection_enabled
    assert not settings.webhooks_allow_private


def test_reads_every_prefixed_variable() -> None:
    settings = Settings.from_env(
        {
            "FERRYMAN_DATABASE_URL": "postgresql://u:p@db:5432/ferryman",
            "FERRYMAN_HOST": "0.0.0.0",
            "FERRYMAN_PORT": "9000",
            "FERRYMAN_PUBLIC_URL": "https://updates.example.com/",
            "FERRYMAN_LOG_LEVEL": "debug",
            "FERRYMAN_PRODUCTION": "yes",
            "FERRYMAN_GRAPHIQL_ASSETS": "/srv/graphiql",
            "FERRYMAN_WEBHOOKS_ALLOW_PRIVATE": "on",
            "UNRELATED": "ignored",
        }
    )
    assert settings.database_url == "postgres://u:p@db:5432/ferryman"
    assert (settings.host, settings.port) == ("0.0.0.0", 9000)
    assert settings.base_url == "https://updates.example.com"
    assert settings.log_level == "DEBUG"
    assert settings.production
    assert settings.graphiql_assets == Path("/srv/graphiql")
    assert settings.webhooks_allow_private


PUBLIC = {"FERRYMAN_PUBLIC_URL": "https://updates.example.com"}


def test_production_switches_off_graphiql_and_introspection_unless_asked() -> None:
    production = Settings.from_env({**PUBLIC, "FERRYMAN_PRODUCTION": "true"})
    assert not production.graphiql_enabled
    assert not production.introspection_enabled
    opted_in = Settings.from_env({**PUBLIC, "FERRYMAN_PRODUCTION": "1", "FERRYMAN_GRAPHIQL": "on"})
    assert opted_in.graphiql_enabled
    assert not opted_in.introspection_enabled


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("FERRYMAN_PORT", "abc", "port number from 1 to 65535"),
        ("FERRYMAN_PORT", "70000", "port number from 1 to 65535"),
        ("FERRYMAN_DATABASE_URL", "mysql://x", "sqlite:// or postgres://"),
        ("FERRYMAN_PUBLIC_URL", "updates.example.com", "absolute http(s) URL"),
        ("FERRYMAN_LOG_LEVEL", "loud", "one of CRITICAL, ERROR, WARNING, INFO, DEBUG"),
        ("FERRYMAN_PRODUCTION", "maybe", "true or false"),
        ("FERRYMAN_HOST", " ", "host name or address"),
        ("FERRYMAN_WORKERS", "0", "whole number of at least 1"),
        ("FERRYMAN_LOG_FORMAT", "xml", "one of json, text"),
        ("FERRYMAN_TRUSTED_PROXIES", "10.0.0.0/8,cloudflare", "'cloudflare'"),
        ("FERRYMAN_CORS_ORIGINS", "https://admin.example.com/path", "no path"),
        ("FERRYMAN_CORS_ORIGINS", "*", "origins such as"),
        ("FERRYMAN_RATE_LIMIT_GRAPHQL", "-1", "whole number (0 or more)"),
        ("FERRYMAN_GRAPHQL_MAX_DEPTH", "0", "whole number of at least 1"),
        ("FERRYMAN_METRICS_TOKEN", " ", "must not be empty"),
        ("FERRYMAN_SMTP_TLS", "ssl", "starttls (port 587), tls (implicit TLS, port 465) or none"),
        ("FERRYMAN_SMTP_FROM", "ferryman", "must be an email address"),
        ("FERRYMAN_SMTP_PORT", "0", "port number from 1 to 65535"),
        ("FERRYMAN_NOTIFY_LICENSE_EXPIRING_DAYS", "0", "whole number of at least 1"),
        ("FERRYMAN_NOTIFICATION_LEASE_MARGIN_SECONDS", "soon", "whole number of at least 1"),
        (
            "FERRYMAN_ANALYTICS",
            "checks,ips",
            "checks, actives, estimates, downloads, health, or none",
        ),
    ],
)
def test_invalid_values_name_the_variable(name: str, value: str, expected: str) -> None:
    with pytest.raises(SettingsError) as error:
        Settings.from_env({name: value})
    assert str(error.value).startswith(name)
    assert expected in str(error.value)


def test_invalid_setting_stops_the_command_with_one_line(tmp_path: Path) -> None:
    result = ferryman("migrate", cwd=tmp_path, port="eighty")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "ferryman: invalid setting: FERRYMAN_PORT must be a port number from 1 to 65535, "
        "got 'eighty'"
    ]
    assert not (tmp_path / "var").exists()


def test_lists_and_limits_are_parsed() -> None:
    settings = Settings.from_env(
        {
            "FERRYMAN_TRUSTED_PROXIES": " 10.0.0.0/8, 2001:db8::1 ,,",
            "FERRYMAN_CORS_ORIGINS": "https://admin.example.com,http://localhost:5173",
            "FERRYMAN_RATE_LIMIT_UPDATES": "0",
            "FERRYMAN_GRAPHQL_MAX_PAGE_SIZE": "250",
        }
    )
    assert [str(network) for network in settings.trusted_proxies] == [
        "10.0.0.0/8",
        "2001:db8::1/128",
    ]
    assert settings.cors_origins == ("https://admin.example.com", "http://localhost:5173")
    assert settings.rate_limit_updates == 0
    assert settings.graphql_max_page_size == 250


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"FERRYMAN_PRODUCTION": "true"}, "FERRYMAN_PUBLIC_URL must be set in production"),
        (
            {"FERRYMAN_PRODUCTION": "true", "FERRYMAN_PUBLIC_URL": "http://updates.example.com"},
            "FERRYMAN_PUBLIC_URL must be an https:// URL in production",
        ),
        (
            {
                **PUBLIC,
                "FERRYMAN_PRODUCTION": "true",
                "FERRYMAN_DOWNLOAD_BASE_URL": "http://cdn.example.com",
            },
            "FERRYMAN_DOWNLOAD_BASE_URL must be an https:// URL in production",
        ),
        ({"FERRYMAN_SMTP_HOST": "smtp.example.com"}, "FERRYMAN_SMTP_FROM must be set when"),
        (
            {
                "FERRYMAN_SMTP_HOST": "smtp.example.com",
                "FERRYMAN_SMTP_FROM": "ferryman@example.com",
                "FERRYMAN_SMTP_USERNAME": "ferryman",
            },
            "FERRYMAN_SMTP_USERNAME and FERRYMAN_SMTP_PASSWORD must be set together",
        ),
    ],
)
def test_settings_that_only_fail_together(environ: dict[str, str], expected: str) -> None:
    with pytest.raises(SettingsError, match=expected):
        Settings.from_env(environ)


@pytest.mark.parametrize("database", ["sqlite://var/ferryman.sqlite3", "postgres://u:p@db/f"])
def test_several_workers_are_accepted_on_either_database(database: str) -> None:
    settings = Settings.from_env({"FERRYMAN_WORKERS": "4", "FERRYMAN_DATABASE_URL": database})
    assert settings.workers == 4


def test_email_settings_are_read_and_the_password_is_never_shown() -> None:
    settings = Settings.from_env(
        {
            "FERRYMAN_SMTP_HOST": "smtp.example.com",
            "FERRYMAN_SMTP_PORT": "465",
            "FERRYMAN_SMTP_TLS": "TLS",
            "FERRYMAN_SMTP_USERNAME": "ferryman",
            "FERRYMAN_SMTP_PASSWORD": " hunter2 ",
            "FERRYMAN_SMTP_FROM": "Ferryman <ferryman@example.com>",
        }
    )
    assert (settings.smtp_host, settings.smtp_port, settings.smtp_tls) == (
        "smtp.example.com",
        465,
        "tls",
    )
    assert settings.smtp_password == " hunter2 "  # as given, spaces and all
    assert settings.smtp_from == "Ferryman <ferryman@example.com>"
    assert "hunter2" not in repr(settings)
    defaults = Settings.from_env({})
    assert (defaults.smtp_host, defaults.smtp_port, defaults.smtp_tls) == (None, 587, "starttls")
    assert defaults.notify_license_expiring_days == 14


def test_analytics_parts_are_a_list_and_none_turns_them_all_off() -> None:
    every = Settings.from_env({}).analytics
    assert every == frozenset(Analytics)
    chosen = Settings.from_env({"FERRYMAN_ANALYTICS": " Checks, downloads ,"}).analytics
    assert chosen == {Analytics.CHECKS, Analytics.DOWNLOADS}
    assert Settings.from_env({"FERRYMAN_ANALYTICS": "none"}).analytics == frozenset()
