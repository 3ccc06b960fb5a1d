"""``…/releases/{release_id}/artifacts...``: the seed's direct upload, its presigned upload
and confirmation, and deleting an artifact; every file verified against the app's key."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from ferryman.body_limits import UPLOAD_OVERHEAD
from ferryman.local_s3 import LocalS3
from ferryman.models import Artifact
from ferryman.models.actor import KeyScope
from ferryman.models.status import ArtifactStatus
from ferryman.settings import Settings
from tests.conftest import make_key, peer, serving
from tests.signing import Signer
from tests.support.admin import Bench, call, ok, put, refusal
from tests.support.database import snapshot
from tests.support.uploads import objects

LINUX = "linux-x86_64"
MAC = "darwin-aarch64"


@pytest.fixture
async def bench(client: httpx.AsyncClient, admin_key: str) -> Bench:
    return await Bench.open(client, admin_key)


@pytest.fixture
async def draft(bench: Bench) -> str:
    """The path of a draft 1.2.0 of the bench's app."""
    return bench.release((await bench.draft("1.2.0"))["id"])


async def presign(bench: Bench, draft: str, platform: str = MAC, **changes: Any) -> Any:
    name, content, signature = bench.file("1.2.0", platform)
    body = {"platform": platform, "filename": name, "signature": signature}
    body |= {"file_size": len(content), **changes}
    return await call(bench.client, "POST", f"{draft}/artifacts/presign", bench.key, body)


async def multipart(
    bench: Bench, draft: str, data: dict[str, str], files: dict[str, Any] | str
) -> httpx.Response:
    """A multipart upload of these fields and files ("no file": the fields alone)."""
    path = f"{draft}/artifacts"
    if files != "no file":
        return await call(bench.client, "POST", path, bench.key, data=data, files=files)
    parts = [
        f'--b\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in data.items()
    ]
    return await bench.client.post(
        path,
        content=("".join(parts) + "--b--\r\n").encode(),
        headers={
            "Authorization": f"Bearer {bench.key}",
            "Content-Type": "multipart/form-data; boundary=b",
        },
    )


async def test_a_direct_upload_is_verified_and_replaces_its_platform(
    bench: Bench, draft: str, s3: LocalS3, bucket: str
) -> None:
    release_id = draft.rsplit("/", 1)[1]
    first = ok(await bench.upload(release_id, "1.2.0", LINUX), 201)
    content = bench.file("1.2.0", LINUX)[1]
    assert first["signature"].startswith("dW50cnVzdGVkIGNvbW1lbnQ6")  # the .sig, as sent
    assert first == {
        "id": first["id"],
        "release_id": release_id,
        "platform": LINUX,
        "signature": first["signature"],
        "r2_key": first["r2_key"],
        "download_url": f"http://127.0.0.1:8000/dl/{bench.app_id}/1.2.0/{LINUX}",
        "file_size": len(content),
        "checksum": first["checksum"],
        "status": "READY",
        "failure_reason": None,
        "warning": None,
        "created_at": first["created_at"],
    }
    assert objects(s3, bucket)[first["r2_key"]] == content
    second = ok(await bench.upload(release_id, "1.2.0", LINUX), 201)
    assert second["id"] != first["id"]
    assert [a.id for a in await Artifact.filter(release_id=release_id)] == [second["id"]]
    assert first["r2_key"] not in objects(s3, bucket)


async def test_a_file_that_does_not_verify_is_422_and_blocks_publishing(
    bench: Bench, draft: str
) -> None:
    release_id = draft.rsplit("/", 1)[1]
    name, content, _ = bench.file("1.2.0", LINUX)
    foreign = Signer().sign(content, name, "1.2.0")
    refused = await multipart(
        bench, draft, {"platform": LINUX, "signature": foreign}, {"file": (name, content)}
    )
    message = refusal(refused, 422, "VERIFICATION_FAILED")
    (artifact,) = await Artifact.filter(release_id=release_id)
    assert artifact.status is ArtifactStatus.FAILED
    assert message.startswith(f"the {LINUX} file did not verify, so artifact {artifact.id}")
    assert "signature was made by key" in message
    publish = await call(bench.client, "POST", f"{draft}/publish", bench.key)
    assert f"{LINUX} (FAILED)" in refusal(publish, 409, "INVALID_STATE")
    # Uploading it again, signed right, replaces the failed one.
    assert ok(await bench.upload(release_id, "1.2.0", LINUX), 201)["status"] == "READY"
    assert ok(await call(bench.client, "POST", f"{draft}/publish", bench.key))["status"] == (
        "published"
    )


@pytest.mark.parametrize(
    ("data", "files", "status", "message"),
    [
        ({"platform": LINUX}, {"file": ("a.bin", b"x")}, 400, "signature missing; send multipart"),
        ({"platform": LINUX, "signature": "s"}, "no file", 400, "file missing"),
        (
            {"platform": LINUX, "signature": "s", "extra": "x"},
            {"file": ("a.bin", b"x")},
            400,
            "Too many fields",
        ),
        (
            {"platform": LINUX, "signature": "s"},
            {"file": ("a.bin", b"x"), "more": ("b.bin", b"y")},
            400,
            "Too many files",
        ),
        ({"platform": LINUX, "file": "text"}, {"signature": ("s", b"s")}, 400, "must be a file"),
        (
            {"platform": "darwin-universal", "signature": "s"},
            {"file": ("a.bin", b"x")},
            400,
            "platform: 'darwin-universal' is not a platform",
        ),
        (
            {"platform": LINUX, "signature": "not a signature"},
            {"file": ("a.bin", b"x")},
            400,
            "signature: ",
        ),
        (
            {"platform": LINUX, "signature": "s"},
            {"file": ("../etc/passwd", b"x")},
            400,
            "file: ",
        ),
        (
            {"platform": LINUX, "signature": "s"},
            {"file": ("a.bin", b"x", "text/html; x=<y>")},
            400,
            "file: contentType 'text/html; x=<y>' is not a media type",
        ),
    ],
)
async def test_a_bad_upload_is_named_and_changes_nothing(
    bench: Bench,
    draft: str,
    s3: LocalS3,
    bucket: str,
    data: dict[str, str],
    files: dict[str, Any] | str,
    status: int,
    message: str,
) -> None:
    before = await snapshot()
    stored = objects(s3, bucket)
    refused = await multipart(bench, draft, data, files)
    assert message in refusal(refused, status, "INVALID_INPUT")
    assert await snapshot() == before
    assert objects(s3, bucket) == stored


async def test_an_upload_must_be_multipart(bench: Bench, draft: str) -> None:
    before = await snapshot()
    as_json = await call(bench.client, "POST", f"{draft}/artifacts", bench.key, {"platform": LINUX})
    assert "send multipart/form-data with the fields platform, signature and file" in refusal(
        as_json, 415, "UNSUPPORTED_MEDIA_TYPE"
    )
    no_boundary = await bench.client.post(
        f"{draft}/artifacts",
        content=b"--x\r\n",
        headers={"Authorization": f"Bearer {bench.key}", "Content-Type": "multipart/form-data"},
    )
    assert "the multipart body cannot be read (Missing boundary" in refusal(
        no_boundary, 400, "INVALID_INPUT"
    )
    assert await snapshot() == before


async def test_a_direct_upload_is_limited_like_graphqls(settings: Settings) -> None:
    limit = 64 * 1024
    async with (
        serving(settings, max_upload_bytes=limit) as application,
        peer(application) as client,
    ):
        bench = await Bench.open(client, await make_key(KeyScope.ADMIN))
        release_id = (await bench.draft("1.2.0"))["id"]
        path = f"{bench.release(release_id)}/artifacts"
        before = await snapshot()
        for size, status, message in (
            (limit + 1, 400, f"file: the file is larger than {limit} bytes"),
            (limit + UPLOAD_OVERHEAD + 1, 413, "over this route's limit"),
        ):
            content = b"x" * size
            signature = bench.signer.sign(content, "big.bin", "1.2.0")
            refused = await call(
                client,
                "POST",
                path,
                bench.key,
                data={"platform": LINUX, "signature": signature},
                files={"file": ("big.bin", content)},
            )
            code = "TOO_LARGE" if status == 413 else "INVALID_INPUT"
            assert message in refusal(refused, status, code)
        assert await snapshot() == before


async def test_the_presigned_upload_is_confirmed_once_the_file_is_there(
    bench: Bench, draft: str
) -> None:
    presigned = ok(await presign(bench, draft))
    assert presigned["upload_headers"] == {"Content-Length": str(len(bench.file("1.2.0", MAC)[1]))}
    confirm = f"{draft}/artifacts/{presigned['artifact_id']}/confirm"
    early = await call(bench.client, "POST", confirm, bench.key)
    assert "object not found" in refusal(early, 422, "VERIFICATION_FAILED")

    await put(presigned, bench.file("1.2.0", MAC)[1])
    confirmed = ok(await call(bench.client, "POST", confirm, bench.key))
    assert (confirmed["status"], confirmed["failure_reason"]) == ("READY", None)
    before = await snapshot()
    assert ok(await call(bench.client, "POST", confirm, bench.key)) == confirmed  # no change
    assert await snapshot() == before


async def test_a_content_type_binds_the_upload_url(bench: Bench, draft: str) -> None:
    presigned = ok(await presign(bench, draft, content_type="application/gzip"))
    assert presigned["upload_headers"]["Content-Type"] == "application/gzip"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"file_size": None}, "file_size must be a whole number, not null"),
        ({"file_size": "12"}, "file_size must be a whole number, not a string"),
        ({"file_size": 1.5}, "file_size must be a whole number, not a number"),
        ({"file_size": True}, "file_size must be a whole number, not true or false"),
        ({"file_size": -1}, "file_size: fileSize must not be negative"),
        ({"file_size": 2**40}, "file_size: fileSize 1099511627776 is more than"),
        ({"platform": "beos-x86_64"}, "platform: 'beos-x86_64' is not a platform"),
        ({"filename": "a/b.bin"}, "filename: "),
        ({"signature": "x"}, "signature: "),
        ({"content_type": "not a type"}, "content_type: contentType 'not a type' is not a media"),
        ({"fileSize": 3}, "unknown field 'fileSize'"),
    ],
)
async def test_a_bad_presign_is_named_and_changes_nothing(
    bench: Bench, draft: str, changes: dict[str, Any], message: str
) -> None:
    before = await snapshot()
    assert message in refusal(await presign(bench, draft, **changes), 400, "INVALID_INPUT")
    assert await snapshot() == before


async def test_deleting_an_artifact_takes_its_file(
    bench: Bench, draft: str, s3: LocalS3, bucket: str
) -> None:
    release_id = draft.rsplit("/", 1)[1]
    uploaded = ok(await bench.upload(release_id, "1.2.0", LINUX), 201)
    path = f"{draft}/artifacts/{uploaded['id']}"
    deleted = await call(bench.client, "DELETE", path, bench.key)
    assert (deleted.status_code, deleted.content) == (204, b"")
    assert not await Artifact.filter(id=uploaded["id"]).exists()
    assert uploaded["r2_key"] not in objects(s3, bucket)
    gone = await call(bench.client, "DELETE", path, bench.key)
    assert refusal(gone, 404, "NOT_FOUND") == f"artifact {uploaded['id']} not found"


async def test_a_published_releases_artifacts_stay(bench: Bench) -> None:
    live = await bench.published("1.0.0", (LINUX,))
    (artifact,) = live["artifacts"]
    before = await snapshot()
    base = f"{bench.release(live['id'])}/artifacts"
    refused = await call(bench.client, "DELETE", f"{base}/{artifact['id']}", bench.key)
    assert "artifacts can only be added, confirmed or removed while a release is a draft" in (
        refusal(refused, 409, "INVALID_STATE")
    )
    upload = await bench.upload(live["id"], "1.0.0", LINUX)
    assert "is published" in refusal(upload, 409, "INVALID_STATE")
    assert await snapshot() == before


async def test_a_ci_key_uploads_and_another_apps_key_is_told_not_found(
    client: httpx.AsyncClient, bench: Bench, draft: str, admin_key: str, app: Starlette
) -> None:
    release_id = draft.rsplit("/", 1)[1]
    ci = await make_key(KeyScope.CI, bench.app_id)
    uploaded = ok(await bench.upload(release_id, "1.2.0", LINUX, key=ci), 201)
    other = await Bench.open(client, admin_key, "other")
    theirs = await other.draft("1.2.0")
    other_key = await make_key(KeyScope.ADMIN, other.app_id)
    before = await snapshot()

    artifact = f"{draft}/artifacts/{uploaded['id']}"
    for method, path in (
        ("POST", f"{draft}/artifacts/presign"),
        ("POST", f"{artifact}/confirm"),
        ("DELETE", artifact),
    ):
        refused = await call(client, method, path, other_key)
        assert refusal(refused, 404, "NOT_FOUND") == f"app {bench.app_id} not found"
    upload = await bench.upload(release_id, "1.2.0", LINUX, key=other_key)
    assert refusal(upload, 404, "NOT_FOUND") == f"app {bench.app_id} not found"
    # My artifact under their release's path is not theirs.
    crossed = f"{other.release(theirs['id'])}/artifacts/{uploaded['id']}"
    refused = await call(client, "DELETE", crossed, admin_key)
    assert refusal(refused, 404, "NOT_FOUND") == f"artifact {uploaded['id']} not found"
    wrong_kind = await call(client, "DELETE", f"{draft}/artifacts/{release_id}", admin_key)
    assert "is not a valid artifact id" in refusal(wrong_kind, 400, "INVALID_INPUT")
    assert await snapshot() == before
    ok(await call(client, "POST", f"{artifact}/confirm", ci))
    assert (await call(client, "DELETE", artifact, ci)).status_code == 204
