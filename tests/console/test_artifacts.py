"""A release's artifacts in the console: files dropped or chosen in Chromium, paired with
their ``.sig`` by the publisher's rules, PUT straight to SeaweedFS through presigned URLs
(the bucket's CORS rule allowing the console's origin, as on R2), checked by the same
domain steps as GraphQL's, then offered by the real update route and verified as the
Tauri client verifies. The files are the committed ones the Tauri CLI signed."""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.async_api import Browser, Dialog, FilePayload, Locator, Page, expect
from starlette.applications import Starlette

from ferryman.local_s3 import LocalS3
from ferryman.models import Artifact, AuditEvent
from ferryman.models import app as apps
from ferryman.models import artifact as artifacts
from ferryman.models import release as releases
from ferryman.models.actor import Actor, Role
from ferryman.models.errors import InvalidInput
from ferryman.models.release import Release
from ferryman.models.status import ArtifactStatus
from ferryman.settings import Settings
from ferryman.signatures import PublicKey, Verifier
from ferryman.storage import Storage
from tests import tauri_client
from tests.console.conftest import PHONE, Person, add_person, axe_violations, sign_in
from tests.support.console import tab_to
from tests.support.rows import add_artifact
from tests.support.tauri_files import APP_PUB, APPIMAGE, TARBALL, data, text

APP_KEY_ID = PublicKey.parse(APP_PUB).key_id_hex
XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture
def uploads(s3: LocalS3, bucket: str, console: str) -> str:
    """The test bucket with the CORS rule ``ferryman dev`` gives its own: the console's
    origin may PUT; returns the console's URL."""
    s3.allow_browser_uploads(bucket, [console])
    return console


async def draft(slug: str = "notes", version: str = "1.2.3") -> Release:
    """A draft of a new app whose public key signed the committed files."""
    app = await apps.create(
        Actor.console(), apps.AppChanges(slug=slug, name=slug.title(), public_key=APP_PUB)
    )
    return await releases.create(Actor.console(), app.id, releases.ReleaseChanges(version=version))


def artifacts_path(release: Release, slug: str = "notes") -> str:
    return f"/console/apps/{slug}/releases/{release.id}/artifacts"


async def drop(page: Page, files: dict[str, bytes]) -> None:
    """Drop ``files`` on the drop zone, as a person dragging them from a file manager."""
    encoded = [[name, base64.b64encode(body).decode()] for name, body in files.items()]
    transfer = await page.evaluate_handle(
        """(files) => {
            const transfer = new DataTransfer();
            for (const [name, encoded] of files) {
                const bytes = Uint8Array.from(atob(encoded), (c) => c.charCodeAt(0));
                transfer.items.add(new File([bytes], name));
            }
            return transfer;
        }""",
        encoded,
    )
    await page.dispatch_event("#dropzone", "dragover", {"dataTransfer": transfer})
    await page.dispatch_event("#dropzone", "drop", {"dataTransfer": transfer})


def queued(page: Page, name: str) -> Locator:
    return page.locator("#queue > li").filter(has=page.get_by_text(name, exact=True))


def row(page: Page, platform: str) -> Locator:
    return page.locator(f"#artifact-{platform}")


async def offered(console: str, target: str, arch: str) -> tuple[tauri_client.Update, bytes]:
    """What the updater of an install on 1.0.0 is offered, and the file it downloads
    (through /dl and the presigned redirect to the bucket)."""
    async with httpx.AsyncClient(base_url=console) as client:
        checked = await client.get(f"/notes/update/{target}/{arch}/1.0.0")
        update = tauri_client.check(checked.status_code, checked.content, "1.0.0", target, arch)
        assert update is not None
        link = urlsplit(update.url)
        redirect = await client.get(f"{link.path}?{link.query}".rstrip("?"))
        assert redirect.status_code == 302, redirect.text
        fetched = await client.get(redirect.headers["location"])
    assert fetched.status_code == 200
    return update, fetched.content


async def test_dropped_tauri_files_are_paired_uploaded_verified_and_offered(
    page: Page, owner: Person, uploads: str
) -> None:
    release = await draft()
    await sign_in(page, owner)
    await page.goto(artifacts_path(release))
    await expect(page.locator(".publishable")).to_contain_text(
        "Publish stays disabled until every artifact is READY."
    )
    await expect(page.locator("#needs-js")).to_be_hidden()
    assert await axe_violations(page) == []

    await drop(
        page,
        {
            APPIMAGE: data(APPIMAGE),
            f"{APPIMAGE}.sig": data(f"{APPIMAGE}.sig"),
            TARBALL: data(TARBALL),
            f"{TARBALL}.sig": data(f"{TARBALL}.sig"),
        },
    )
    appimage, tarball = queued(page, APPIMAGE), queued(page, TARBALL)
    await expect(appimage.get_by_label(f"Platform of {APPIMAGE}")).to_have_value("linux-x86_64")
    await expect(appimage).to_contain_text(f"Signature: {APPIMAGE}.sig")
    await expect(tarball).to_contain_text(f"cannot tell the architecture of {TARBALL}")
    upload = page.get_by_role("button", name="Upload 2 files")
    await expect(upload).to_be_disabled()
    await tarball.get_by_label(f"Platform of {TARBALL}").select_option("darwin-aarch64")
    await expect(upload).to_be_enabled()
    await expect(tarball.locator("[data-problems]")).to_be_empty()
    assert await axe_violations(page) == []

    await upload.click()
    await expect(appimage.locator("[data-state]")).to_have_text(
        "READY: uploaded and verified as linux-x86_64"
    )
    await expect(tarball.locator("[data-state]")).to_have_text(
        "READY: uploaded and verified as darwin-aarch64"
    )
    await expect(appimage.locator("progress")).to_have_attribute("value", "100")
    linux, mac = row(page, "linux-x86_64"), row(page, "darwin-aarch64")
    await expect(linux).to_contain_text("READY")
    await expect(linux).to_contain_text(hashlib.sha256(data(APPIMAGE)).hexdigest())
    await expect(linux).to_contain_text(f"{len(data(APPIMAGE))} bytes")
    await expect(linux).to_contain_text(f"key {APP_KEY_ID}")
    await expect(linux).to_contain_text("version 1.2.3")
    await expect(mac).to_contain_text("names no version")
    await expect(mac).to_contain_text(f"{len(data(TARBALL)):,} bytes")
    await expect(page.locator(".publishable")).to_contain_text("Every artifact is READY")
    assert await axe_violations(page) == []
    stored = await Artifact.filter(release_id=release.id).order_by("platform")
    assert [(a.platform, a.status) for a in stored] == [
        ("darwin-aarch64", ArtifactStatus.READY),
        ("linux-x86_64", ArtifactStatus.READY),
    ]

    await releases.publish(Actor.console(), release.id)
    update, body = await offered(uploads, "linux", "x86_64")
    assert (update.version, body) == ("1.2.3", data(APPIMAGE))
    tauri_client.download_and_verify(update, body, APP_PUB, require_signed_version=True)
    update, body = await offered(uploads, "darwin", "aarch64")
    assert body == data(TARBALL)
    tauri_client.download_and_verify(update, body, APP_PUB)


async def test_chosen_with_the_keyboard_a_tampered_file_fails_and_is_replaced(
    page: Page, owner: Person, uploads: str, s3: LocalS3, bucket: str
) -> None:
    """Keyboard alone: choosing files, a platform and a pasted signature, then uploading.
    The tampered file's check fails with the verifier's own words; Replace uploads the
    genuine one on its platform; Delete asks first and removes the file from the bucket."""
    release = await draft()
    tampered = data(APPIMAGE).replace(b"1.2.3", b"6.6.6")
    assert tampered != data(APPIMAGE)
    verifier = Verifier.for_upload(text(f"{APPIMAGE}.sig"))
    verifier.update(tampered)
    expected = verifier.failure(APP_PUB)
    assert expected
    await sign_in(page, owner)
    await page.goto(artifacts_path(release))
    await tab_to(page, page.locator("#files"))
    async with page.expect_file_chooser() as chosen:
        # Playwright asks Chromium to intercept the chooser without waiting for an answer;
        # one round trip makes sure it does before the key is pressed.
        await page.evaluate("0")
        await page.keyboard.press("Space")
    await (await chosen.value).set_files(
        [
            payload(APPIMAGE, tampered),
            payload(f"{APPIMAGE}.sig", data(f"{APPIMAGE}.sig")),
            payload(TARBALL, data(TARBALL)),
        ]
    )
    tarball = queued(page, TARBALL)
    await expect(tarball).to_contain_text(f"{TARBALL}.sig is missing")
    await page.keyboard.press("Tab")  # the AppImage's platform, as its name tells
    await expect(page.get_by_label(f"Platform of {APPIMAGE}")).to_be_focused()
    await page.keyboard.press("Tab")
    await page.keyboard.type("darwin-a")
    await expect(page.get_by_label(f"Platform of {TARBALL}")).to_have_value("darwin-aarch64")
    await expect(page.get_by_label(f"Platform of {TARBALL}")).to_be_focused()
    upload = page.get_by_role("button", name="Upload 2 files")
    await expect(upload).to_be_enabled()
    await page.keyboard.press("Tab")
    await page.keyboard.insert_text(text(f"{TARBALL}.sig"))
    await page.keyboard.press("Tab")
    await expect(upload).to_be_focused()
    await page.keyboard.press("Enter")

    await expect(queued(page, APPIMAGE).locator("[data-state]")).to_have_text(f"FAILED: {expected}")
    await expect(tarball.locator("[data-state]")).to_have_text(
        "READY: uploaded and verified as darwin-aarch64"
    )
    await expect(row(page, "linux-x86_64")).to_contain_text("FAILED")
    await expect(row(page, "linux-x86_64").locator(".failure")).to_have_text(expected)
    await expect(page.locator(".publishable")).to_contain_text("linux-x86_64 (FAILED)")
    assert await axe_violations(page) == []
    failed = await Artifact.get(release_id=release.id, platform="linux-x86_64")
    assert (failed.status, failed.failure_reason) == (ArtifactStatus.FAILED, expected)

    await page.get_by_role("button", name="Replace linux-x86_64").click()
    await expect(page.locator("#replacing")).to_contain_text("Replacing the linux-x86_64 file")
    await expect(page.get_by_label("Files and their signatures")).to_be_focused()
    await page.get_by_label("Files and their signatures").set_input_files(
        [payload(APPIMAGE, data(APPIMAGE)), payload(f"{APPIMAGE}.sig", data(f"{APPIMAGE}.sig"))]
    )
    await page.get_by_role("button", name="Upload 1 file").click()
    await expect(row(page, "linux-x86_64")).to_contain_text("READY")
    await expect(page.locator(".publishable")).to_contain_text("Every artifact is READY")
    replaced = await Artifact.get(release_id=release.id, platform="linux-x86_64")
    assert replaced.id != failed.id
    assert replaced.status is ArtifactStatus.READY

    mac = await Artifact.get(release_id=release.id, platform="darwin-aarch64")
    asked: list[str] = []

    async def accept(dialog: Dialog) -> None:
        asked.append(dialog.message)
        await dialog.accept()

    page.on("dialog", accept)
    await page.get_by_role("button", name="Delete darwin-aarch64").click()
    await expect(page.locator("main > p.notice")).to_have_text("Deleted the artifact and its file.")
    assert asked == ["Delete the darwin-aarch64 artifact and its file?"]
    await expect(row(page, "darwin-aarch64")).to_have_count(0)
    assert not await Artifact.filter(id=mac.id).exists()
    assert "Contents" not in s3.client.list_objects_v2(Bucket=bucket, Prefix=mac.object_key)


def payload(name: str, body: bytes) -> FilePayload:
    return {"name": name, "mimeType": "application/octet-stream", "buffer": body}


async def test_bad_files_get_the_rules_words_and_change_nothing(
    page: Page, owner: Person, uploads: str, app: Starlette
) -> None:
    """A signature for another version, a paste that is no signature, and a file name
    that is markup: the domain's messages, shown as text, and nothing recorded for them."""
    release = await draft()
    store = app.state.storage
    nine = "version-9.9.9.AppImage"
    wrong_version = await refusal(store, release, nine, text(f"{nine}.sig"))
    not_a_signature = await refusal(store, release, APPIMAGE, "not a signature")
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    await sign_in(page, owner)
    await page.goto(artifacts_path(release))
    await drop(
        page,
        {
            "version-9.9.9.AppImage": data("version-9.9.9.AppImage"),
            "version-9.9.9.AppImage.sig": data("version-9.9.9.AppImage.sig"),
            f"{XSS}_amd64.AppImage": data(APPIMAGE),
            "lonely.AppImage.sig": b"a signature without its file",
        },
    )
    await expect(page.locator("#left-over")).to_have_text(
        "lonely.AppImage.sig has no file: lonely.AppImage is not among the files"
    )
    nine = queued(page, "version-9.9.9.AppImage")
    await nine.get_by_label("Platform of version-9.9.9.AppImage").select_option("linux-aarch64")
    markup = queued(page, f"{XSS}_amd64.AppImage")
    await expect(markup.get_by_label(f"Platform of {XSS}_amd64.AppImage")).to_have_value(
        "linux-x86_64"
    )
    await markup.get_by_label(f"Signature of {XSS}_amd64.AppImage").fill("not a signature")
    await page.get_by_role("button", name="Upload 2 files").click()
    await expect(nine.locator("[data-state]")).to_have_text(f"Refused: {wrong_version}")
    await expect(markup.locator("[data-state]")).to_have_text(f"Refused: {not_a_signature}")
    await expect(markup.get_by_label(f"Signature of {XSS}_amd64.AppImage")).to_have_attribute(
        "aria-invalid", "true"
    )
    assert not await Artifact.filter(release_id=release.id).exists()

    # The markup is a name like any other: pasted with the genuine signature, it is READY.
    await drop(page, {f"{XSS}_amd64.AppImage": data(APPIMAGE)})
    await markup.get_by_label(f"Signature of {XSS}_amd64.AppImage").fill(text(f"{APPIMAGE}.sig"))
    await page.get_by_role("button", name="Upload 1 file").click()
    await expect(row(page, "linux-x86_64").locator(".file")).to_have_text(f"{XSS}_amd64.AppImage")
    await expect(row(page, "linux-x86_64")).to_contain_text(
        f"the signature was made for the file '{APPIMAGE}'"
    )
    assert await page.locator("img").count() == 0
    assert dialogs == []


async def refusal(store: Storage, release: Release, name: str, signature: str) -> str:
    """What the artifact rules say to an upload of ``name`` (GraphQL says the same)."""
    new = artifacts.NewArtifact("linux-aarch64", name, signature, len(data(APPIMAGE)))
    try:
        await artifacts.begin_upload(Actor.console(), release.id, new, store, Verifier.for_upload)
    except InvalidInput as error:
        return error.message
    raise AssertionError("the rules accepted what the test expected them to refuse")


async def test_viewers_and_admins_of_other_apps_change_nothing(
    page: Page, browser: Browser, uploads: str
) -> None:
    """A viewer sees the checks but no way to change them, and every change sent anyway is
    refused (403, no upload URL handed out); an admin of another app is told the release
    is not there (404). Nothing changes either way."""
    release = await draft()
    tasks = await apps.create(Actor.console(), apps.AppChanges(slug="tasks", name="Tasks"))
    artifact_id = await add_artifact(release.id, "darwin-aarch64")
    viewer = await add_person("viewer@example.com", Role.VIEWER)
    other = await add_person("tasks@example.com", Role.ADMIN, frozenset({tasks.id}))
    before = await snapshot()
    await sign_in(page, viewer)
    await page.goto(artifacts_path(release))
    await expect(row(page, "darwin-aarch64")).to_contain_text("READY")
    await expect(page.get_by_text("Your role lets you see these artifacts")).to_be_visible()
    await expect(page.locator("#uploader")).to_have_count(0)
    await expect(page.get_by_role("button", name="Delete darwin-aarch64")).to_have_count(0)
    assert await axe_violations(page) == []
    answers = await changes(page, artifacts_path(release), artifact_id)
    assert [status for status, _ in answers] == [403, 403, 403]
    assert all("viewers change nothing" in body for _, body in answers)
    assert not any("X-Amz-Signature" in body for _, body in answers)
    assert await snapshot() == before

    context = await browser.new_context(base_url=uploads)
    try:
        elsewhere = await context.new_page()
        await sign_in(elsewhere, other)
        response = await elsewhere.goto(artifacts_path(release))
        assert response is not None
        assert response.status == 404
        answers = await changes(elsewhere, artifacts_path(release), artifact_id)
        assert [status for status, _ in answers] == [404, 404, 404]
        assert not any("X-Amz-Signature" in body for _, body in answers)
    finally:
        await context.close()
    assert await snapshot() == before


async def snapshot() -> tuple[list[tuple[str, str, str]], int]:
    """The artifacts as stored, and how many audit events there are."""
    rows = [(a.id, a.status.value, a.object_key) for a in await Artifact.all().order_by("id")]
    return rows, await AuditEvent.all().count()


async def changes(page: Page, path: str, artifact_id: str) -> list[tuple[int, str]]:
    """Begin an upload, confirm and delete, sent from the page with its CSRF token as the
    uploader's script and the delete form send them: each answer's status and body."""
    answers: list[tuple[int, str]] = await page.evaluate(
        """async ([path, artifact, signature]) => {
            const csrf = document.querySelector("input[name=csrf]").value;
            const post = async (url, body, type) => {
                const response = await fetch(url, {
                    method: "POST", body,
                    headers: {"Content-Type": type, "X-CSRF-Token": csrf},
                });
                return [response.status, await response.text()];
            };
            const json = "application/json";
            const upload = {platform: "linux-x86_64", filename: "MyApp_1.2.3_amd64.AppImage",
                            signature, fileSize: 34};
            return [
                await post(`${path}/uploads`, JSON.stringify(upload), json),
                await post(`${path}/${artifact}/confirm`, "{}", json),
                await post(`${path}/${artifact}/delete`, `csrf=${csrf}`,
                           "application/x-www-form-urlencoded"),
            ];
        }""",
        [path, artifact_id, text(f"{APPIMAGE}.sig")],
    )
    return answers


async def test_at_phone_width_the_page_fits_and_uploads(
    browser: Browser, owner: Person, uploads: str
) -> None:
    release = await draft()
    context = await browser.new_context(base_url=uploads, viewport=PHONE)
    try:
        page = await context.new_page()
        await sign_in(page, owner)
        await page.goto(artifacts_path(release))
        await page.get_by_label("Files and their signatures").set_input_files(
            [payload(APPIMAGE, data(APPIMAGE)), payload(f"{APPIMAGE}.sig", data(f"{APPIMAGE}.sig"))]
        )
        await expect(page.get_by_label(f"Platform of {APPIMAGE}")).to_have_value("linux-x86_64")
        assert await axe_violations(page) == []
        await page.get_by_role("button", name="Upload 1 file").click()
        await expect(row(page, "linux-x86_64")).to_contain_text("READY")
        assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        # The table scrolls inside its frame rather than widening the page.
        wrap = page.locator(".table-wrap")
        assert await wrap.evaluate("e => e.scrollWidth > e.clientWidth")
        assert await axe_violations(page) == []
    finally:
        await context.close()


async def test_without_javascript_the_page_says_so_and_deletes(
    browser: Browser, owner: Person, uploads: str
) -> None:
    release = await draft()
    artifact_id = await add_artifact(release.id, "windows-x86_64-msi", ArtifactStatus.FAILED)
    context = await browser.new_context(base_url=uploads, java_script_enabled=False)
    try:
        page = await context.new_page()
        await sign_in(page, owner)
        await page.goto(artifacts_path(release))
        await expect(page.locator("#needs-js")).to_contain_text("Uploading needs JavaScript")
        await expect(page.locator("#upload-ui")).to_be_hidden()
        await expect(page.get_by_role("button", name="Replace windows-x86_64-msi")).to_be_hidden()
        await expect(page.locator(".publishable")).to_contain_text("windows-x86_64-msi (FAILED)")
        await page.get_by_role("button", name="Delete windows-x86_64-msi").click()
        await expect(page.locator("main > p.notice")).to_have_text(
            "Deleted the artifact and its file."
        )
        assert not await Artifact.filter(id=artifact_id).exists()
        await expect(page.locator(".publishable")).to_contain_text("has no READY artifact")
    finally:
        await context.close()


async def test_uploads_go_only_where_the_policy_and_the_bucket_allow(
    page: Page, owner: Person, console: str, s3: LocalS3, bucket: str, settings: Settings
) -> None:
    """The page may connect to this server and the store's endpoint, nothing else; a bucket
    whose CORS rule names another origin refuses the browser's PUT, and the page says so."""
    release = await draft()
    s3.allow_browser_uploads(bucket, ["https://console.example.com"])
    await sign_in(page, owner)
    response = await page.goto(artifacts_path(release))
    assert response is not None
    policy = dict(
        directive.strip().split(" ", 1)
        for directive in (await response.all_headers())["content-security-policy"].split(";")
    )
    assert policy["connect-src"] == f"'self' {settings.s3_endpoint}"
    await page.get_by_label("Files and their signatures").set_input_files(
        [payload(APPIMAGE, data(APPIMAGE)), payload(f"{APPIMAGE}.sig", data(f"{APPIMAGE}.sig"))]
    )
    await page.get_by_role("button", name="Upload 1 file").click()
    await expect(queued(page, APPIMAGE).locator("[data-state]")).to_have_text(
        "Upload failed: storage could not be reached, or its CORS rule does not allow this page"
    )
    pending = await Artifact.get(release_id=release.id)
    assert pending.status is ArtifactStatus.PENDING
    assert "Contents" not in s3.client.list_objects_v2(Bucket=bucket, Prefix=pending.object_key)


async def test_a_published_release_keeps_its_artifacts(page: Page, owner: Person) -> None:
    """Once published, the page offers no change, and one sent anyway gets the rules'
    refusal (400) and changes nothing."""
    release = await draft()
    artifact_id = await add_artifact(release.id, "darwin-aarch64")
    await releases.publish(Actor.console(), release.id)
    await sign_in(page, owner)
    await page.goto(artifacts_path(release))
    await expect(page.locator(".publishable")).to_have_text(
        "This release is published: its artifacts can no longer change."
    )
    await expect(page.locator("#uploader")).to_have_count(0)
    await expect(page.get_by_role("button", name="Delete darwin-aarch64")).to_have_count(0)
    assert await axe_violations(page) == []
    before = await snapshot()
    [_, _, (status, body)] = await changes(page, artifacts_path(release), artifact_id)
    assert status == 400
    assert "artifacts can only be added, confirmed or removed while a release is a draft" in body
    assert await snapshot() == before
