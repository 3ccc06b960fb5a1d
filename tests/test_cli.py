"""The ``ferryman`` console commands, run as an operator would, against real databases."""

import csv
import hashlib
import io
import stat
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ferryman import auth
from ferryman.models import AuditEvent, CoveragePeriod, License
from ferryman.models import app as apps
from ferryman.models.actor import Actor
from tests.conftest import Databases
from tests.support.cli import ferryman
from tests.support.database import bound

ROOT = Path(__file__).parent.parent


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
    for command in ("serve", "dev", "migrate", "keys", "licenses", "users", "export-schema"):
        assert command in result.stdout


# --- licenses import ----------------------------------------------------------------

KEPT = "lk_" + "K" * 40


@pytest.fixture
async def app_url(url: str) -> str:
    """A database with one app, my-app."""
    async with bound(url):
        await apps.create(Actor.console(), apps.AppChanges(slug="my-app", name="My App"))
    return url


def write_csv(folder: Path, text: str) -> Path:
    path = folder / "licences.csv"
    path.write_text(text)
    return path


def import_licences(
    url: str, source: Path, *, app: str = "my-app", output: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """``ferryman licenses import`` of ``source`` into the database at ``url``."""
    options = ["--output", str(output)] if output is not None else []
    return ferryman(
        "licenses",
        "import",
        "--app",
        app,
        *options,
        str(source),
        database_url=url,
        cwd=source.parent,
    )


async def licence_count(url: str) -> int:
    async with bound(url):
        return await License.all().count()


async def test_licenses_import_creates_every_row_and_writes_their_keys(
    app_url: str, tmp_path: Path
) -> None:
    source = write_csv(
        tmp_path,
        "customer,starts_at,ends_at,key\n"
        "Acme,2025-01-01,2026-01-01T12:00:00Z,\n"
        ",,,\n"
        f'"Bob, Inc",,,{KEPT}\n'
        "Carol,2025-06-01T10:00:00+02:00,,\n",
    )
    output = tmp_path / "keys.csv"

    result = import_licences(app_url, source, output=output)

    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert "imported 3 licences for my-app (2 new keys, 1 kept)" in result.stderr
    assert f"the keys are only in {output}" in result.stderr
    assert stat.S_IMODE(output.stat().st_mode) == 0o600
    with output.open(newline="") as file:
        rows = list(csv.reader(file))
    assert rows[0] == ["id", "customer", "key", "starts_at", "ends_at"]
    written = {row[1]: row for row in rows[1:]}
    assert sorted(written) == ["Acme", "Bob, Inc", "Carol"]
    assert written["Bob, Inc"][2] == KEPT
    assert written["Acme"][3:] == ["2025-01-01T00:00:00+00:00", "2026-01-01T12:00:00+00:00"]
    assert written["Carol"][3:] == ["2025-06-01T08:00:00+00:00", "2026-06-01T08:00:00+00:00"]
    for row in rows[1:]:
        assert auth.LICENSE_PATTERN.fullmatch(row[2]), row
    async with bound(app_url):
        stored = {license.id: license for license in await License.all()}
        periods = {p.license_id: p for p in await CoveragePeriod.all()}
        events = await AuditEvent.filter(action="license.import")
        dump = repr([await License.all().values(), await AuditEvent.all().values()])
    assert sorted(stored) == sorted(row[0] for row in rows[1:])
    for license_id, customer, key, starts_at, ends_at in rows[1:]:
        license = stored[license_id]
        # Found again by the hash of the key in the file: the key itself is not stored.
        assert license.key_hash == hashlib.sha256(key.encode()).hexdigest()
        assert license.prefix == key[:7]
        assert license.customer == customer
        assert key not in dump
        assert periods[license_id].starts_at == datetime.fromisoformat(starts_at)
        assert periods[license_id].ends_at == datetime.fromisoformat(ends_at)
    bob = written["Bob, Inc"][3]
    assert abs(datetime.fromisoformat(bob) - datetime.now(UTC)).total_seconds() < 120
    assert [e.summary for e in events] == ["imported 3 licences"]


async def test_licenses_import_prints_the_keys_without_output(app_url: str, tmp_path: Path) -> None:
    source = write_csv(tmp_path, "customer,starts_at,ends_at\nAcme,,\n")

    result = import_licences(app_url, source)

    assert result.returncode == 0, result.stderr
    ((license_id, customer, key, _, _),) = list(csv.reader(io.StringIO(result.stdout)))[1:]
    assert customer == "Acme"
    assert "the keys are only in the CSV above" in result.stderr
    async with bound(app_url):
        license = await License.get(id=license_id)
    assert license.key_hash == auth.hash_key(key)


async def test_licenses_import_names_the_line_of_a_bad_date_and_imports_nothing(
    app_url: str, tmp_path: Path
) -> None:
    source = write_csv(
        tmp_path, "customer,starts_at,ends_at\nAcme,2025-01-01,\nBob,2025-13-01,\nCarol,,\n"
    )
    output = tmp_path / "keys.csv"

    result = import_licences(app_url, source, output=output)

    assert result.returncode == 1
    assert "line 3, column starts_at: '2025-13-01' is not a date" in result.stderr
    assert "ISO 8601" in result.stderr
    assert not output.exists()
    assert await licence_count(app_url) == 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # The rules in the models refuse it; the answer still names the line and column.
        (
            "customer,starts_at,ends_at\nAcme,,\nBob,2025-02-01,2025-01-01\n",
            "line 3, column ends_at: ends_at (2025-01-01T00:00:00+00:00) must be later than "
            "starts_at",
        ),
        (
            "customer,starts_at,ends_at\nBob,2025-02-01,2025-01-01\n",
            "line 2, column ends_at: ends_at",
        ),
        (
            "customer,starts_at,ends_at\nAcme,,\n" + "x" * 201 + ",,\n",
            "line 3, column customer: customer is longer than 200 characters",
        ),
        ("customer,starts_at,ends_at\nAcme,,,\n", "line 2 has 4 fields but the header has 3"),
        ("customer,starts,ends_at\nAcme,,\n", "unknown column 'starts'"),
        ("customer,ends_at\nAcme,\n", "no column starts_at"),
        ("customer,starts_at,ends_at\n", "no licences: nothing to import"),
        (
            "customer,starts_at,ends_at,key\nAcme,,,lk_short\n",
            "line 2, column key: not a licence key",
        ),
    ],
)
async def test_licenses_import_refuses_a_bad_file(
    app_url: str, tmp_path: Path, text: str, expected: str
) -> None:
    source = write_csv(tmp_path, text)

    result = import_licences(app_url, source)

    assert result.returncode == 1
    assert expected in result.stderr
    assert result.stdout == ""
    assert await licence_count(app_url) == 0


async def test_licenses_import_refuses_a_key_twice_in_the_file(
    app_url: str, tmp_path: Path
) -> None:
    source = write_csv(tmp_path, f"customer,starts_at,ends_at,key\nA,,,{KEPT}\nB,,,\nC,,,{KEPT}\n")

    result = import_licences(app_url, source)

    assert result.returncode == 1
    assert "line 4, column key: the same key as line 2" in result.stderr
    assert KEPT not in result.stderr
    assert await licence_count(app_url) == 0


async def test_licenses_import_refuses_a_key_another_licence_has(
    app_url: str, tmp_path: Path
) -> None:
    first = write_csv(tmp_path, f"customer,starts_at,ends_at,key\nA,,,{KEPT}\n")
    imported = import_licences(app_url, first)
    assert imported.returncode == 0, imported.stderr
    existing = list(csv.reader(io.StringIO(imported.stdout)))[1][0]
    second = write_csv(tmp_path, f"customer,starts_at,ends_at,key\nB,,,\nC,,,{KEPT}\n")

    result = import_licences(app_url, second)

    assert result.returncode == 1
    assert f"line 3, column key: this key already belongs to licence {existing}" in result.stderr
    assert await licence_count(app_url) == 1


async def test_licenses_import_for_an_unknown_app(app_url: str, tmp_path: Path) -> None:
    source = write_csv(tmp_path, "customer,starts_at,ends_at\nAcme,,\n")

    result = import_licences(app_url, source, app="nope")

    assert result.returncode == 1
    assert "no app has the slug 'nope'" in result.stderr
    assert await licence_count(app_url) == 0


async def test_licenses_import_checks_the_output_folder_first(app_url: str, tmp_path: Path) -> None:
    source = write_csv(tmp_path, "customer,starts_at,ends_at\nAcme,,\n")

    result = import_licences(app_url, source, output=tmp_path / "no" / "keys.csv")

    assert result.returncode == 1
    assert "cannot write to the folder" in result.stderr
    assert await licence_count(app_url) == 0
