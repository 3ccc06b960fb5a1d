"""How fast artifactUploadConfirm reads a large artifact back: MiB/s, not a test.

Starts its own SeaweedFS and SQLite database in a temporary folder, generates a random
file (100 MiB by default), signs it with a throw-away key written here in the format
``tauri signer`` uses (the Tauri CLI is not needed), uploads it to a fresh presigned URL
for each run, then times ``artifactUploadConfirm`` through the real ASGI app: HEAD, the
server-side copy to the served key, one streamed GET of that copy, SHA-256 and
BLAKE2b-512 over every byte, Ed25519 verification, the READY write.

With ``--mismatch`` the file is signed by one key and the app holds another, so every
confirm ends FAILED on the key id, before a byte is read: it times the refusal.

    .venv/bin/python bench/confirm.py [--size-mib 100] [--runs 3] [--mismatch]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from ferryman import auth
from ferryman.app import create_app
from ferryman.local_s3 import LocalS3
from ferryman.models import api_key as api_keys
from ferryman.models.actor import Actor, KeyScope
from ferryman.models.registry import migrate
from ferryman.settings import Settings

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository: bench/, tests/
from bench.machine import machine
from tests.signing import Signer

MiB = 1024 * 1024
VERSION = "1.0.0"
FILENAME = "Bench_1.0.0_amd64.AppImage"

MUTATIONS = """
mutation App($input: AppCreateInput!) {
  appCreate(input: $input) { app { id } userErrors { message } }
}
mutation Release($appId: ID!, $input: ReleaseCreateInput!) {
  releaseCreate(appId: $appId, input: $input) { release { id } userErrors { message } }
}
mutation Create($releaseId: ID!, $input: ArtifactUploadCreateInput!) {
  artifactUploadCreate(releaseId: $releaseId, input: $input) {
    artifact { id } uploadUrl uploadHeaders { name value } userErrors { message }
  }
}
mutation Confirm($id: ID!) {
  artifactUploadConfirm(id: $id) {
    artifact { status fileSize checksum failureReason } userErrors { message }
  }
}
"""


def generate(path: Path, size: int) -> None:
    with path.open("wb") as file:
        left = size
        while left:
            step = min(left, 8 * MiB)
            file.write(os.urandom(step))
            left -= step


async def call(client: httpx.AsyncClient, key: str, name: str, **variables: Any) -> Any:
    response = await client.post(
        "/graphql",
        json={"query": MUTATIONS, "operationName": name, "variables": variables},
        headers={"Authorization": f"Bearer {key}"},
    )
    response.raise_for_status()
    body = response.json()
    if body.get("errors"):
        raise SystemExit(f"{name}: {body['errors']}")
    payload = next(iter(body["data"].values()))
    if payload["userErrors"]:
        raise SystemExit(f"{name}: {payload['userErrors']}")
    return payload


async def run(size: int, runs: int, mismatch: bool, workdir: Path) -> None:
    s3 = LocalS3(workdir / "s3")
    s3.start("bench")
    try:
        database = f"sqlite://{workdir / 'bench.sqlite3'}"
        await migrate(database)
        settings = Settings(
            database_url=database,
            graphiql=False,
            s3_endpoint=s3.endpoint,
            s3_region=s3.region,
            s3_bucket="bench",
            s3_access_key_id=s3.credentials.access_key_id,
            s3_secret_access_key=s3.credentials.secret_access_key,
        )
        payload = workdir / FILENAME
        generate(payload, size)
        signer = Signer()
        signature = signer.sign_file(payload, VERSION)
        app_key = Signer().public_key if mismatch else signer.public_key

        application = create_app(settings)
        async with application.router.lifespan_context(application):
            minted = auth.mint()
            new = api_keys.NewKey("bench", KeyScope.ADMIN, None, minted.key_hash, minted.prefix)
            await api_keys.create(Actor.console(), new)
            key = minted.secret
            transport = httpx.ASGITransport(app=application)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                created_app = await call(
                    client,
                    key,
                    "App",
                    input={"slug": "bench", "name": "Bench", "publicKey": app_key},
                )
                release = await call(
                    client,
                    key,
                    "Release",
                    appId=created_app["app"]["id"],
                    input={"version": VERSION},
                )
                upload = {
                    "platform": "linux-x86_64",
                    "filename": FILENAME,
                    "signature": signature,
                    "fileSize": size,
                }
                release_id = release["release"]["id"]
                timings = []
                outcome: dict[str, Any] = {}
                for _ in range(runs):  # each upload URL writes an object of its own
                    created = await call(client, key, "Create", releaseId=release_id, input=upload)
                    headers = {h["name"]: h["value"] for h in created["uploadHeaders"]}
                    async with httpx.AsyncClient(timeout=300) as outside:
                        with payload.open("rb") as body:
                            put = await outside.put(
                                created["uploadUrl"], content=body.read(), headers=headers
                            )
                    put.raise_for_status()
                    started = time.perf_counter()
                    confirmed = await call(client, key, "Confirm", id=created["artifact"]["id"])
                    timings.append(time.perf_counter() - started)
                    outcome = confirmed["artifact"]
    finally:
        s3.stop()

    mib = size / MiB
    rates = [mib / seconds for seconds in timings]
    print(f"machine: {machine()}")
    print(
        f"artifact: {mib:.0f} MiB, outcome {outcome['status']}"
        + (f" ({outcome['failureReason']})" if outcome["failureReason"] else "")
    )
    for number, (seconds, rate) in enumerate(zip(timings, rates, strict=True), 1):
        print(f"run {number}: {seconds:.2f} s, {rate:.1f} MiB/s")
    print(
        f"confirm throughput: median {statistics.median(rates):.1f} MiB/s, "
        f"best {max(rates):.1f} MiB/s over {runs} run(s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--size-mib", type=int, default=100, help="artifact size (100)")
    parser.add_argument("--runs", type=int, default=3, help="confirms to time (3)")
    parser.add_argument(
        "--mismatch",
        action="store_true",
        help="give the app another key, so each confirm ends FAILED after reading everything",
    )
    args = parser.parse_args()
    if args.size_mib < 1 or args.runs < 1:
        parser.error("--size-mib and --runs must be at least 1")
    with tempfile.TemporaryDirectory(prefix="ferryman-bench-") as workdir:
        asyncio.run(run(args.size_mib * MiB, args.runs, args.mismatch, Path(workdir)))


if __name__ == "__main__":
    sys.exit(main())
