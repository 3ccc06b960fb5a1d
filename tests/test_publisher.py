"""``ferryman publish`` run as CI runs it, against the real server on a free port.

The server is conftest's ``publish_server``; the bundle (conftest's ``bundle``) is made of
the committed Tauri-CLI-signed files.
"""

from __future__ import annotations

import shutil
import subprocess
from importlib import resources
from pathlib import Path
from typing import Any

import graphql
import httpx
import pytest

from ferryman import publisher
from ferryman.publisher import PublishError, find_artifacts, platform_key
from ferryman.publisher.bundle import Paired, pair
from ferryman.signatures import PublicKey, Signature, Verifier
from tests.services import free_port
from tests.support.cli import ferryman
from tests.support.documents import API_KEY_CREATE, operation
from tests.support.live_server import graphql as live_graphql
from tests.support.tauri_files import APP_PUB, APPIMAGE, DATA, data

SCHEMA = Path(__file__).parent.parent / "schema" / "schema.graphql"


def run(*args: str, cwd: Path, key: str | None = None) -> subprocess.CompletedProcess[str]:
    """``ferryman publish ARGS``, with a database URL it must never need."""
    return ferryman(
        "publish", *args, cwd=cwd, api_key=key, database_url="nonsense://ignored by publish"
    )


RELEASE = """
query ($version: String!) {
  app(slug: "my-app") { release(version: $version) { status notes artifacts { platform status } } }
}
"""


def release_of(server: tuple[str, str]) -> dict[str, Any] | None:
    """my-app's 1.2.3 as the server has it, if it has one."""
    release: dict[str, Any] | None = live_graphql(server, RELEASE, {"version": "1.2.3"})["release"]
    return release


def test_publish_a_bundle_then_the_updater_gets_it(
    publish_server: tuple[str, str], bundle: Path, tmp_path: Path
) -> None:
    base, key = publish_server
    notes = tmp_path / "CHANGELOG.md"
    notes.write_text("Faster start")
    result = run(
        "--server",
        base,
        "--app",
        "my-app",
        "--version",
        "1.2.3",
        "--notes-file",
        str(notes),
        "--publish",
        "bundle/",
        cwd=tmp_path,
        key=key,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "READY" in result.stdout
    assert "linux-x86_64" in result.stdout
    assert "published my-app 1.2.3" in result.stdout
    assert "signed version" in result.stdout
    assert "names no version" not in result.stdout

    answer = httpx.get(f"{base}/my-app/update/linux/x86_64/1.0.0")
    assert answer.status_code == 200
    manifest = answer.json()
    assert manifest["version"] == "1.2.3"
    assert manifest["notes"] == "Faster start"
    download = httpx.get(manifest["url"], follow_redirects=True)
    assert download.content == data(APPIMAGE)
    verifier = Verifier(Signature.parse(manifest["signature"]))  # what the updater checks
    verifier.update(download.content)
    verifier.verify(PublicKey.parse(APP_PUB))


def test_without_publish_the_release_stays_a_draft(
    publish_server: tuple[str, str], bundle: Path, tmp_path: Path
) -> None:
    base, key = publish_server
    args = ("--server", base, "--app", "my-app", "--version", "1.2.3", str(bundle))
    first = run(*args, cwd=tmp_path, key=key)
    assert first.returncode == 0, first.stdout + first.stderr
    again = run(*args, cwd=tmp_path, key=key)  # a rerun of the same job reuses the draft
    assert again.returncode == 0, again.stdout + again.stderr
    release = release_of(publish_server)
    assert release is not None
    assert release["status"] == "DRAFT"
    assert release["artifacts"] == [{"platform": "linux-x86_64", "status": "READY"}]
    assert httpx.get(f"{base}/my-app/update/linux/x86_64/1.0.0").status_code == 204


def test_a_signature_without_its_version_is_shown_and_warned_about(
    publish_server: tuple[str, str], tmp_path: Path
) -> None:
    """Apps that set requireSignedVersion refuse such files: the summary says so."""
    base, key = publish_server
    for name in ("MyApp.app.tar.gz", "MyApp.app.tar.gz.sig"):  # signed without --app-version
        shutil.copy(DATA / name, tmp_path / name)
    result = run(
        "--server",
        base,
        "--app",
        "my-app",
        "--version",
        "1.2.3",
        "--platform",
        "MyApp.app.tar.gz=darwin-aarch64",
        "MyApp.app.tar.gz",
        cwd=tmp_path,
        key=key,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    [row] = [line for line in result.stdout.splitlines() if "MyApp.app.tar.gz" in line]
    assert "READY" in row
    assert "none" in row
    assert "a signature names no version" in result.stdout


def test_a_server_that_is_down(bundle: Path, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = run(
        "--server", url, "--app", "my-app", "--version", "1.2.3", str(bundle),
        cwd=tmp_path, key="uk_live_" + "a" * 40,
    )  # fmt: skip
    assert result.returncode == 1
    assert f"cannot reach {url}" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_bad_key_gets_the_servers_message(
    publish_server: tuple[str, str], bundle: Path, tmp_path: Path
) -> None:
    result = run(
        "--server", publish_server[0], "--app", "my-app", "--version", "1.2.3", str(bundle),
        cwd=tmp_path, key="uk_live_" + "a" * 40,
    )  # fmt: skip
    assert result.returncode == 1
    assert "unknown API key" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_file_without_its_sig_is_named(tmp_path: Path) -> None:
    lonely = tmp_path / "MyApp_1.2.3_amd64.AppImage"
    shutil.copy(DATA / APPIMAGE, lonely)
    result = run(
        "--server", "http://127.0.0.1:9", "--app", "my-app", "--version", "1.2.3", str(lonely),
        cwd=tmp_path, key="uk_live_" + "a" * 40,
    )  # fmt: skip
    assert result.returncode == 1
    assert "MyApp_1.2.3_amd64.AppImage.sig is missing" in result.stderr


def test_dry_run_uploads_nothing(
    publish_server: tuple[str, str], bundle: Path, tmp_path: Path
) -> None:
    base, key = publish_server
    result = run(
        "--server", base, "--app", "my-app", "--version", "1.2.3", "--publish", "--dry-run",
        str(bundle), cwd=tmp_path, key=key,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert APPIMAGE in result.stdout
    assert "linux-x86_64" in result.stdout
    assert ".deb" not in result.stdout  # no .sig: not an updater artifact
    assert release_of(publish_server) is None


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert run("--server", "http://x", str(tmp_path), cwd=tmp_path, key="k").returncode == 2
    no_key = run("--server", "http://x", "--app", "a", str(tmp_path), cwd=tmp_path)
    assert no_key.returncode == 2
    assert "--api-key" in no_key.stderr


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("MyApp_aarch64.app.tar.gz", "darwin-aarch64"),
        ("MyApp_x64.app.tar.gz", "darwin-x86_64"),
        ("MyApp_1.2.3_amd64.AppImage", "linux-x86_64"),
        ("MyApp_1.2.3_aarch64.AppImage", "linux-aarch64"),
        ("MyApp_1.2.3_i386.AppImage", "linux-i686"),
        ("MyApp_1.2.3_amd64.deb", "linux-x86_64-deb"),
        ("MyApp_1.2.3_arm64.deb", "linux-aarch64-deb"),
        ("MyApp-1.2.3-1.x86_64.rpm", "linux-x86_64-rpm"),
        ("MyApp-1.2.3-1.aarch64.rpm", "linux-aarch64-rpm"),
        ("MyApp-1.2.3-1.i686.rpm", "linux-i686-rpm"),
        ("MyApp_1.2.3_x64-setup.exe", "windows-x86_64"),
        ("MyApp_1.2.3_x86-setup.exe", "windows-i686"),
        ("MyApp_1.2.3_arm64-setup.exe", "windows-aarch64"),
        ("MyApp_1.2.3_x64-setup.nsis.zip", "windows-x86_64"),
        ("MyApp_1.2.3_x64_en-US.msi", "windows-x86_64-msi"),
        ("MyApp_1.2.3_x86_en-US.msi", "windows-i686-msi"),
        ("MyApp_1.2.3_x64_en-US.msi.zip", "windows-x86_64-msi"),
    ],
)
def test_platform_from_file_name(name: str, key: str) -> None:
    assert platform_key(name) == key


@pytest.mark.parametrize("name", ["MyApp.app.tar.gz", "MyApp_universal.app.tar.gz"])
def test_a_mac_archive_without_an_arch_needs_platform(name: str) -> None:
    with pytest.raises(PublishError, match="--platform"):
        platform_key(name)


def test_platform_override_and_clashes(tmp_path: Path) -> None:
    for name in ("MyApp.app.tar.gz", "MyApp.app.tar.gz.sig", APPIMAGE, f"{APPIMAGE}.sig"):
        shutil.copy(DATA / name, tmp_path / name)
    found = find_artifacts([tmp_path], {"MyApp.app.tar.gz": "darwin-aarch64"})
    assert {a.path.name: a.platform for a in found} == {
        "MyApp.app.tar.gz": "darwin-aarch64",
        APPIMAGE: "linux-x86_64",
    }
    assert found[1].signature == (DATA / f"{APPIMAGE}.sig").read_text().strip()
    with pytest.raises(PublishError, match="both map to linux-x86_64"):
        find_artifacts([tmp_path], {"MyApp.app.tar.gz": "linux-x86_64"})
    with pytest.raises(PublishError, match="FILE=KEY"):
        publisher.parse_overrides(["MyApp.app.tar.gz"])


def test_chosen_names_pair_with_their_sig_and_platform_by_the_same_rules() -> None:
    """The console's uploads: what find_artifacts does for a folder, said per name."""
    names = [
        APPIMAGE, f"{APPIMAGE}.sig", "MyApp.app.tar.gz", "lonely.AppImage.sig",
        "A_1.0.0_x64-setup.exe", "A_1.0.0_x64-setup.exe.sig", "A_1.0.0_x64-setup.nsis.zip",
        "MyApp_1.2.3_x86_64.AppImage", "MyApp_1.2.3_x86_64.AppImage.sig",
    ]  # fmt: skip
    paired = pair(names, {})
    found = {file.name: file for file in paired.files}
    assert list(found) == [
        APPIMAGE, "MyApp.app.tar.gz", "A_1.0.0_x64-setup.exe", "MyApp_1.2.3_x86_64.AppImage",
    ]  # fmt: skip
    assert found["A_1.0.0_x64-setup.exe"] == Paired(
        "A_1.0.0_x64-setup.exe", "A_1.0.0_x64-setup.exe.sig", "windows-x86_64", ()
    )
    assert found["MyApp.app.tar.gz"].problems == (
        "MyApp.app.tar.gz has no signature: MyApp.app.tar.gz.sig is missing",
        "cannot tell the architecture of MyApp.app.tar.gz",
    )
    clash = f"{APPIMAGE} and MyApp_1.2.3_x86_64.AppImage both map to linux-x86_64"
    assert found[APPIMAGE].problems == found["MyApp_1.2.3_x86_64.AppImage"].problems == (clash,)
    assert paired.left_over == (
        "lonely.AppImage.sig has no file: lonely.AppImage is not among the files",
        "A_1.0.0_x64-setup.nsis.zip is passed over: A_1.0.0_x64-setup.exe is the same update",
    )
    assert not paired.ready
    chosen = {"MyApp.app.tar.gz": "darwin-aarch64", APPIMAGE: "linux-x86_64-deb"}
    assert pair(names, chosen).ready
    assert not pair([], {}).ready


def test_v1_zips_are_passed_over_when_the_installer_is_there(tmp_path: Path) -> None:
    for name in ("A_1.0.0_x64-setup.exe", "A_1.0.0_x64-setup.nsis.zip"):
        (tmp_path / name).write_bytes(b"x")
        (tmp_path / f"{name}.sig").write_text("sig")
    assert [a.path.name for a in find_artifacts([tmp_path], {})] == ["A_1.0.0_x64-setup.exe"]


def test_default_version(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "src-tauri").mkdir(parents=True)
    (project / "src-tauri" / "Cargo.toml").write_text('[package]\nname = "a"\nversion = "0.9.0"\n')
    assert publisher.default_version(project) == "0.9.0"
    (project / "package.json").write_text('{"version": "1.4.0"}')
    (project / "src-tauri" / "tauri.conf.json").write_text('{"version": "../package.json"}')
    assert publisher.default_version(project / "src-tauri") == "1.4.0"
    (project / "src-tauri" / "tauri.conf.json").write_text('{"version": "2.0.1"}')
    assert publisher.default_version(project) == "2.0.1"


def test_default_version_from_the_git_tag(tmp_path: Path) -> None:
    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "x")
    with pytest.raises(PublishError, match="no version"):
        publisher.default_version(tmp_path)
    git("tag", "v3.1.4")
    assert publisher.default_version(tmp_path) == "3.1.4"


def test_the_operations_are_valid_against_the_schema() -> None:
    schema = graphql.build_schema(SCHEMA.read_text())
    names = [
        p.name.removesuffix(".graphql")
        for p in resources.files("ferryman.operations").iterdir()
        if p.name.endswith(".graphql")
    ]
    assert len(names) == 7
    for name in names:
        document = graphql.parse(publisher.operation(name))
        assert graphql.validate(schema, document) == [], name
        (definition,) = document.definitions
        assert isinstance(definition, graphql.OperationDefinitionNode)
        assert definition.name is not None
        assert definition.name.value == name


def test_a_ci_key_that_may_not_publish_says_so_as_the_rest_route_does(
    publish_server: tuple[str, str], bundle: Path, tmp_path: Path
) -> None:
    """Both CI doors word it alike, name ciMayPublish, and keep the uploads as a draft."""
    base = publish_server[0]
    app_id = live_graphql(publish_server, operation("AppBySlug"), {"slug": "my-app"})["id"]
    ci = {"name": "ci", "scope": "CI", "appId": app_id}
    ci_key = live_graphql(publish_server, API_KEY_CREATE, {"input": ci})["secret"]
    result = run(
        "--server", base, "--app", "my-app", "--version", "1.2.3", "--publish", str(bundle),
        cwd=tmp_path, key=ci_key,
    )  # fmt: skip
    assert result.returncode == 1
    assert "READY" in result.stdout  # the summary table is there
    assert "is a draft with every artifact READY" in result.stdout
    assert "not published, kept as a draft: CI keys may not publish" in result.stderr
    assert "ciMayPublish: true" in result.stderr
    release = release_of(publish_server)
    assert release is not None
    assert release["status"] == "DRAFT"
