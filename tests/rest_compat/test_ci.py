"""The CI submission, through the seed's REST body and through ciReleaseSubmit."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from ferryman.local_s3 import LocalS3
from ferryman.models import App, Artifact, Release
from ferryman.models import app as apps
from ferryman.models.actor import Actor, KeyScope
from tests.conftest import GraphQL, make_key
from tests.support.ci import body, post
from tests.support.documents import CI_RELEASE_SUBMIT
from tests.support.tauri_files import APP_PUB, APPIMAGE, DATA, TARBALL, text


@pytest.fixture
async def setup(app: Starlette, s3: LocalS3, bucket: str) -> dict[str, str]:
    """An app with the test key, a CI key for it, and CI's files already in the bucket."""
    created = await apps.create(
        Actor.console(), apps.AppChanges(slug="my-app", name="My App", public_key=APP_PUB)
    )
    for name in (APPIMAGE, TARBALL):
        s3.client.put_object(
            Bucket=bucket, Key=f"my-app/releases/1.2.3/{name}", Body=(DATA / name).read_bytes()
        )
    return {"app_id": created.id, "ci": await make_key(KeyScope.CI, created.id)}


async def test_the_seed_body_creates_then_is_idempotent(
    client: httpx.AsyncClient, setup: dict[str, str]
) -> None:
    first = await post(client, setup["ci"], body())
    assert first.status_code == 201, first.text
    answer = first.json()
    assert (answer["version"], answer["status"], answer["published"]) == ("1.2.3", "draft", False)
    assert [a["status"] for a in answer["artifacts"]] == ["READY", "READY"]
    again = await post(client, setup["ci"], body())
    assert again.status_code == 200
    assert again.json()["id"] == answer["id"]
    assert await Release.all().count() == 1
    assert await Artifact.all().count() == 2


async def test_graphql_and_rest_share_the_release(
    client: httpx.AsyncClient, gql: GraphQL, setup: dict[str, str]
) -> None:
    rest = (await post(client, setup["ci"], body())).json()
    result = await gql(
        CI_RELEASE_SUBMIT,
        {
            "slug": "my-app",
            "input": {
                "version": "1.2.3",
                "notes": "What's new",
                "artifacts": [
                    {"platform": a["platform"], "signature": a["signature"], "r2Key": a["r2_key"]}
                    for a in body()["artifacts"]
                ],
            },
        },
        key=setup["ci"],
    )
    payload = result["data"]["ciReleaseSubmit"]
    assert payload["userErrors"] == []
    assert payload["release"]["id"] == rest["id"]
    assert payload["created"] is False


async def test_auto_publish_needs_a_key_that_may_publish(
    client: httpx.AsyncClient, setup: dict[str, str]
) -> None:
    kept = (await post(client, setup["ci"], body(auto_publish=True))).json()
    assert kept["status"] == "draft"
    assert kept["published"] is False
    assert "ciMayPublish" in kept["notice"]
    await App.filter(id=setup["app_id"]).update(ci_may_publish=True)
    published = (await post(client, setup["ci"], body(auto_publish=True))).json()
    assert (published["status"], published["published"]) == ("published", True)
    # Once published, the same submission is a no-op and a different one is refused.
    same = await post(client, setup["ci"], body(auto_publish=True))
    assert same.status_code == 200
    assert "nothing changed" in same.json()["notice"]
    different = await post(client, setup["ci"], body(notes="Other notes"))
    assert different.status_code == 409
    assert "already published" in different.json()["error"]["message"]


async def test_a_file_that_does_not_verify_is_failed_and_blocks_publishing(
    client: httpx.AsyncClient, setup: dict[str, str]
) -> None:
    wrong = body(
        auto_publish=True,
        artifacts=[
            {
                "platform": "darwin-aarch64",
                "signature": text(f"{TARBALL}.sig"),
                "r2_key": "my-app/releases/1.2.3/missing.tar.gz",
            },
        ],
    )
    await App.filter(id=setup["app_id"]).update(ci_may_publish=True)
    answer = (await post(client, setup["ci"], wrong)).json()
    assert answer["artifacts"][0]["status"] == "FAILED"
    assert "object not found" in answer["artifacts"][0]["failure_reason"]
    assert answer["status"] == "draft"
    assert "not published" in answer["notice"]


@pytest.mark.parametrize(
    ("payload", "status", "message"),
    [
        (body(version="1.2"), 400, "not a version"),
        (
            body(artifacts=[{"platform": "darwin-universal", "signature": "x", "r2_key": "k"}]),
            400,
            "not a platform",
        ),
        (body(artifacts=[*body()["artifacts"], body()["artifacts"][0]]), 400, "appears twice"),
        (
            body(
                artifacts=[
                    {
                        "platform": "linux-x86_64",
                        "signature": text(f"{APPIMAGE}.sig"),
                        "r2_key": "other-app/releases/1.2.3/x.AppImage",
                    }
                ]
            ),
            400,
            "artifacts[0].r2_key: the file key",
        ),
        (
            body(
                artifacts=[
                    {
                        "platform": "linux-x86_64",
                        "signature": text(f"{APPIMAGE}.sig"),
                        "r2_key": "my-app/releases/1.2.3/../../other-app/x",
                    }
                ]
            ),
            400,
            "must name a file directly under",
        ),
        (b"{not json", 400, "not a release submission"),
        (b"[1, 2]", 400, "not a release submission"),
        (b"x" * (1024 * 1024 + 10), 413, ""),
    ],
)
async def test_bad_submissions_change_nothing(
    client: httpx.AsyncClient, setup: dict[str, str], payload: Any, status: int, message: str
) -> None:
    response = await post(client, setup["ci"], payload)
    assert response.status_code == status, response.text
    if message:
        assert message in response.json()["error"]["message"]
    assert await Release.all().count() == 0
    assert await Artifact.all().count() == 0


async def test_keys_are_checked(client: httpx.AsyncClient, setup: dict[str, str]) -> None:
    assert (await post(client, None, body())).status_code == 401
    other = await apps.create(Actor.console(), apps.AppChanges(slug="other-app", name="Other"))
    foreign = await make_key(KeyScope.CI, other.id)
    refused = await post(client, foreign, body())
    assert refused.status_code == 404
    assert await Release.all().count() == 0


async def test_parallel_jobs_build_one_release(
    client: httpx.AsyncClient, setup: dict[str, str]
) -> None:
    jobs = [body(artifacts=[a]) for a in body()["artifacts"]] * 25  # 50 submissions at once
    answers = await asyncio.gather(*(post(client, setup["ci"], job) for job in jobs))
    refused = [a.text for a in answers if a.status_code not in (200, 201)]
    assert refused == []
    assert await Release.all().count() == 1
    artifacts = await Artifact.all().order_by("platform")
    assert [(a.platform, a.status.value) for a in artifacts] == [
        ("darwin-aarch64", "READY"),
        ("linux-x86_64", "READY"),
    ]


async def test_a_signature_of_another_file_fails_its_artifact(
    client: httpx.AsyncClient, setup: dict[str, str]
) -> None:
    swapped = body(
        version="1.2.3",
        artifacts=[
            {
                "platform": "darwin-aarch64",
                "signature": text(f"{TARBALL}.sig"),
                "r2_key": f"my-app/releases/1.2.3/{APPIMAGE}",
            }
        ],
    )
    answer = (await post(client, setup["ci"], swapped)).json()
    assert answer["artifacts"][0]["status"] == "FAILED"
    assert "does not match its signature" in answer["artifacts"][0]["failure_reason"]
