"""The ``ferryman`` console commands, run as an operator would, against real databases."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import Databases

ROOT = Path(__file__).parent.parent


def ferryman(*args: str, database_url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FERRYMAN_DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "ferryman", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def url(databases: Databases) -> str:
    return databases.fresh()


def test_keys_create_list_revoke(url: str, tmp_path: Path) -> None:
    created = ferryman(
        "keys", "create", "--scope", "admin", "--name", "ops", database_url=url, cwd=tmp_path
    )
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip()
    assert secret.startswith("uk_live_")
    assert len(secret) == len("uk_live_") + 40
    key_id = created.stderr.split()[3]
    assert key_id.startswith("key_")

    listed = ferryman("keys", "list", database_url=url, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert key_id in listed.stdout
    assert "active" in listed.stdout
    assert secret not in listed.stdout
    assert secret[:12] in listed.stdout

    revoked = ferryman("keys", "revoke", key_id, database_url=url, cwd=tmp_path)
    assert revoked.returncode == 0, revoked.stderr
    assert "revoked" in ferryman("keys", "list", database_url=url, cwd=tmp_path).stdout


def test_keys_create_for_an_unknown_app_changes_nothing(url: str, tmp_path: Path) -> None:
    result = ferryman(
        "keys",
        "create",
        "--scope",
        "ci",
        "--app",
        "nope",
        "--name",
        "ci",
        database_url=url,
        cwd=tmp_path,
    )
    assert result.returncode == 1
    assert "no app has the slug 'nope'" in result.stderr
    assert ferryman("keys", "list", database_url=url, cwd=tmp_path).stdout == ""


def test_keys_create_rejects_an_unknown_scope(url: str, tmp_path: Path) -> None:
    result = ferryman(
        "keys", "create", "--scope", "root", "--name", "x", database_url=url, cwd=tmp_path
    )
    assert result.returncode == 2
    assert "'root' is not one of 'admin', 'ci'" in result.stderr


def test_revoking_an_unknown_key_says_so(url: str, tmp_path: Path) -> None:
    result = ferryman(
        "keys", "revoke", "key_01JDXXXXXXXXXXXXXXXXXXXXXX", database_url=url, cwd=tmp_path
    )
    assert result.returncode == 1
    assert "not found" in result.stderr


def test_migrate_creates_the_database(databases: Databases, tmp_path: Path) -> None:
    url = databases.empty()
    result = ferryman("migrate", database_url=url, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "database is up to date" in result.stdout
    assert ferryman("keys", "list", database_url=url, cwd=tmp_path).returncode == 0


def test_export_schema_prints_the_committed_sdl(tmp_path: Path) -> None:
    out = tmp_path / "schema.graphql"
    result = ferryman(
        "export-schema", "--output", str(out), database_url="sqlite://x", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert out.read_text() == (ROOT / "schema" / "schema.graphql").read_text()


def test_console_script_is_installed() -> None:
    result = subprocess.run(
        [Path(sys.executable).parent / "ferryman", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0
    for command in ("serve", "dev", "migrate", "keys", "export-schema"):
        assert command in result.stdout
