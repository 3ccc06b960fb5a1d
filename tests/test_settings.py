import subprocess
import sys
from pathlib import Path

import pytest

from ferryman.settings import Settings, SettingsError


def test_defaults_run_on_an_embedded_sqlite_file() -> None:
    settings = Settings.from_env({})
    assert settings.database_url == "sqlite://var/ferryman.sqlite3"
    assert settings.base_url == "http://127.0.0.1:8000"
    assert settings.graphiql_enabled
    assert settings.introspection_enabled


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
            "UNRELATED": "ignored",
        }
    )
    assert settings.database_url == "postgres://u:p@db:5432/ferryman"
    assert (settings.host, settings.port) == ("0.0.0.0", 9000)
    assert settings.base_url == "https://updates.example.com"
    assert settings.log_level == "DEBUG"
    assert settings.production
    assert settings.graphiql_assets == Path("/srv/graphiql")


def test_production_switches_off_graphiql_and_introspection_unless_asked() -> None:
    production = Settings.from_env({"FERRYMAN_PRODUCTION": "true"})
    assert not production.graphiql_enabled
    assert not production.introspection_enabled
    opted_in = Settings.from_env({"FERRYMAN_PRODUCTION": "1", "FERRYMAN_GRAPHIQL": "on"})
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
    ],
)
def test_invalid_values_name_the_variable(name: str, value: str, expected: str) -> None:
    with pytest.raises(SettingsError) as error:
        Settings.from_env({name: value})
    assert str(error.value).startswith(name)
    assert expected in str(error.value)


def test_invalid_setting_stops_the_command_with_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ferryman", "migrate"],
        env={"FERRYMAN_PORT": "eighty", "PATH": "/usr/bin:/bin"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "ferryman: invalid setting: FERRYMAN_PORT must be a port number from 1 to 65535, "
        "got 'eighty'"
    ]
    assert not (tmp_path / "var").exists()
