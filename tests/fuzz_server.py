"""A throwaway Ferryman for the fuzzing stage (``scripts/fuzz``): real server, real S3.

    python -m tests.fuzz_server --workdir DIR --env-file FILE [--log FILE] [--owner EMAIL]

Starts a private SeaweedFS (``LocalS3``), migrates a fresh SQLite database in DIR, starts
``ferryman serve`` on a free port, mints a global admin key, creates the app ``my-app``
(with the public key of ``tests/data/tauri``) through GraphQL, mints a CI key bound to it,
and publishes release 1.2.3 of it with two verified artifacts (``linux-x86_64`` and
``darwin-aarch64``) through ``POST /ci/apps/my-app/releases``. The updater and download
routes therefore have something real to answer. Through the admin API it then makes what
that API's fuzzing works on (``tests/fuzz.toml`` pins its paths to them): my-app's draft
1.3.0, a second draft 1.4.0 for deleting, an app ``spare-app`` for changing and another,
``doomed-app``, for deleting, so that my-app keeps its name and 1.3.0 its life.

With ``--owner`` (``scripts/screenshots`` uses it) it also adds that console owner, with
``ferryman users create``, and FILE names their one-time sign-in link.

It then writes FILE (shell ``KEY=value`` lines: the URL, both keys, the server log) and
waits: SIGTERM or SIGINT, the end of its parent, or the server's death stops the server
and the S3 it started. Everything it writes stays in DIR, which the caller removes.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import secrets
import shlex
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from ferryman.local_s3 import LocalS3
from tests.services import free_port, sqlite_url
from tests.support.documents import APP_CREATE

DATA = Path(__file__).parent / "data" / "tauri"
APP_SLUG = "my-app"
VERSION = "1.2.3"
FILES = {"linux-x86_64": "MyApp_1.2.3_amd64.AppImage", "darwin-aarch64": "MyApp.app.tar.gz"}
BUCKET = "ferryman"
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
_PR_SET_PDEATHSIG = 1
METRICS_TOKEN = secrets.token_urlsafe(24)


class SetupError(RuntimeError):
    """The throwaway server could not be set up; the message says which step failed."""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, required=True, help="an empty, private folder")
    parser.add_argument("--env-file", type=Path, required=True, help="written once ready")
    parser.add_argument("--log", type=Path, help="the server's log (default: WORKDIR/server.log)")
    parser.add_argument("--owner", help="also add this console owner; FILE names their link")
    args = parser.parse_args()
    workdir: Path = args.workdir.resolve()
    log_path: Path = (args.log or workdir / "server.log").resolve()

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    parent = os.getppid()

    s3 = LocalS3(workdir / "s3")
    server: subprocess.Popen[bytes] | None = None
    try:
        s3.start(BUCKET)
        env = _server_env(workdir, s3)
        _ferryman(env, "migrate")
        admin_key = _ferryman(env, "keys", "create", "--scope", "admin", "--name", "fuzz admin")
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("wb") as log:
            server = subprocess.Popen(
                [sys.executable, "-m", "ferryman", "serve"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
            )
        base = env["FERRYMAN_PUBLIC_URL"]
        _wait_ready(base, server, log_path)
        ci_key, pinned = _seed(base, env, admin_key, s3)
        owner = {}
        if args.owner:
            created = _ferryman(env, "users", "create", "--email", args.owner, "--role", "owner")
            owner = {"FUZZ_OWNER_LINK": created.split()[-1]}
        _write_env(
            args.env_file,
            {
                **owner,
                "FUZZ_URL": base,
                "FUZZ_ADMIN_KEY": admin_key,
                "FUZZ_CI_KEY": ci_key,
                "FUZZ_METRICS_TOKEN": METRICS_TOKEN,
                "FUZZ_APP": APP_SLUG,
                **pinned,
                "FUZZ_VERSION": VERSION,
                "FUZZ_SERVER_LOG": str(log_path),
                "FUZZ_SERVER_PID": str(server.pid),
            },
        )
        print(f"fuzz server ready on {base} (log: {log_path})", flush=True)
        while not stop.wait(0.5):
            if os.getppid() != parent:
                break  # whoever started us is gone: do not outlive it
            if server.poll() is not None:
                print(f"error: the server exited with {server.returncode}", file=sys.stderr)
                return 1
        return 0
    except SetupError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    finally:
        if server is not None and server.poll() is None:
            server.terminate()
            try:
                server.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        s3.stop()


def _server_env(workdir: Path, s3: LocalS3) -> dict[str, str]:
    """The server's environment: ours alone, whatever FERRYMAN_* the caller has set."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("FERRYMAN_")}
    return {
        **inherited,
        "FERRYMAN_DATABASE_URL": sqlite_url(workdir / "ferryman.sqlite3"),
        "FERRYMAN_HOST": "127.0.0.1",
        "FERRYMAN_PORT": str(port),
        "FERRYMAN_PUBLIC_URL": base,
        "FERRYMAN_LOG_LEVEL": "INFO",
        # Introspection must be on: schemathesis reads the GraphQL schema from it.
        "FERRYMAN_PRODUCTION": "false",
        "FERRYMAN_INTROSPECTION": "true",
        "FERRYMAN_GRAPHIQL_ASSETS": str(workdir / "no-graphiql-assets"),
        "FERRYMAN_S3_ENDPOINT": s3.endpoint,
        "FERRYMAN_S3_REGION": s3.region,
        "FERRYMAN_S3_BUCKET": BUCKET,
        "FERRYMAN_S3_ACCESS_KEY_ID": s3.credentials.access_key_id,
        "FERRYMAN_S3_SECRET_ACCESS_KEY": s3.credentials.secret_access_key,
        "FERRYMAN_LOG_FORMAT": "text",
        # /metrics is fuzzed with its token required, so that its 401 is exercised too.
        "FERRYMAN_METRICS_TOKEN": METRICS_TOKEN,
        # Fuzzed endpoints may name any public address: their messages stay in the outbox.
        "FERRYMAN_SEND_NOTIFICATIONS": "false",
        # Hundreds of requests a minute from one address is the point here, not abuse: no
        # rate limits (0), so that every request reaches the code under test.
        **dict.fromkeys(
            (
                "FERRYMAN_RATE_LIMIT_GRAPHQL",
                "FERRYMAN_RATE_LIMIT_ADMIN",
                "FERRYMAN_RATE_LIMIT_CI",
                "FERRYMAN_RATE_LIMIT_DOWNLOADS",
                "FERRYMAN_RATE_LIMIT_UPDATES",
                "FERRYMAN_RATE_LIMIT_AUTH_FAILURES",
            ),
            "0",
        ),
    }


def _ferryman(env: dict[str, str], *arguments: str) -> str:
    """Run one ``ferryman`` console command; its standard output, stripped."""
    result = subprocess.run(
        [sys.executable, "-m", "ferryman", *arguments],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if result.returncode != 0:
        raise SetupError(
            f"ferryman {' '.join(arguments)} failed ({result.returncode}): "
            f"{result.stderr.strip() or result.stdout.strip()}"
        )
    return result.stdout.strip()


def _wait_ready(base: str, server: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while True:
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{base}/readyz", timeout=5).status_code == 200:
                return
        if server.poll() is not None:
            raise SetupError(f"ferryman serve exited with {server.returncode}:\n{_tail(log_path)}")
        if time.monotonic() > deadline:
            raise SetupError(f"/readyz was not 200 within {READY_TIMEOUT:.0f} s")
        time.sleep(0.1)


def _seed(
    base: str, env: dict[str, str], admin_key: str, s3: LocalS3
) -> tuple[str, dict[str, str]]:
    """Create the app and its published release, mint the app's CI key, and make the admin
    API's objects; returns the CI key and the FUZZ_ variables that name those objects."""
    admin = {"Authorization": f"Bearer {admin_key}"}
    with httpx.Client(base_url=base, headers=admin, timeout=60) as client:
        variables = {
            "input": {
                "slug": APP_SLUG,
                "name": "My App",
                "description": "Seeded by tests/fuzz_server.py",
                "publicKey": (DATA / "app.pub").read_text(),
            }
        }
        answer = _json(client.post("/graphql", json={"query": APP_CREATE, "variables": variables}))
        payload = (answer.get("data") or {}).get("appCreate") or {}
        if answer.get("errors") or payload.get("userErrors") or not payload.get("app"):
            raise SetupError(f"appCreate failed: {answer}")

        ci_key = _ferryman(
            env, "keys", "create", "--scope", "ci", "--app", APP_SLUG, "--name", "fuzz ci"
        )

        artifacts = []
        for platform, name in FILES.items():
            key = f"{APP_SLUG}/releases/{VERSION}/{name}"
            s3.client.put_object(Bucket=BUCKET, Key=key, Body=(DATA / name).read_bytes())
            signature = (DATA / f"{name}.sig").read_text()
            artifacts.append({"platform": platform, "signature": signature, "r2_key": key})
        body = {
            "version": VERSION,
            "notes": "Seeded release for the fuzzing stage.",
            "artifacts": artifacts,
            "auto_publish": True,
        }
        submitted = client.post(f"/ci/apps/{APP_SLUG}/releases", json=body)
        release = _json(submitted)
        if submitted.status_code != 201 or not release.get("published"):
            raise SetupError(f"the CI submission did not publish {VERSION}: {release}")

        # What the fuzzer will find: an update for an old install, and a download redirect.
        check = client.get(f"/{APP_SLUG}/update/linux/x86_64/1.0.0")
        if check.status_code != 200 or check.json().get("version") != VERSION:
            raise SetupError(f"the seeded update is not offered: {check.status_code} {check.text}")
        download = client.get(check.json()["url"], follow_redirects=False)
        if download.status_code != 302:
            raise SetupError(f"the seeded download does not redirect: {download.status_code}")

        app_id = payload["app"]["id"]
        releases = f"/admin/apps/{app_id}/releases"
        return ci_key, {
            "FUZZ_APP_ID": app_id,
            "FUZZ_DRAFT_ID": _created(client, releases, {"version": "1.3.0"}),
            "FUZZ_SPARE_DRAFT_ID": _created(client, releases, {"version": "1.4.0"}),
            "FUZZ_SPARE_APP_ID": _created(
                client, "/admin/apps", {"slug": "spare-app", "name": "Spare"}
            ),
            "FUZZ_DOOMED_APP_ID": _created(
                client, "/admin/apps", {"slug": "doomed-app", "name": "Doomed"}
            ),
        }


def _created(client: httpx.Client, path: str, body: dict[str, str]) -> str:
    """The id of what POSTing ``body`` to the admin API at ``path`` created."""
    response = client.post(path, json=body)
    created = _json(response)
    if response.status_code != 201:
        raise SetupError(f"the admin API did not create {body}: {created}")
    return str(created["id"])


def _json(response: httpx.Response) -> dict[str, Any]:
    what = f"{response.request.method} {response.request.url.path}: {response.status_code}"
    try:
        data = response.json()
    except ValueError:
        raise SetupError(f"{what} {response.text}") from None
    if not isinstance(data, dict):
        raise SetupError(f"{what} {response.text}")
    return data


def _write_env(path: Path, values: dict[str, str]) -> None:
    """Write ``KEY=value`` lines atomically (the reader polls for the file), mode 0600."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text("".join(f"{k}={shlex.quote(v)}\n" for k, v in values.items()))
    partial.chmod(0o600)
    partial.replace(path)


def _tail(path: Path) -> str:
    with contextlib.suppress(OSError):
        return path.read_text(errors="replace")[-4000:]
    return ""


def _die_with_parent() -> None:
    """In the child: ask Linux to stop the server if this helper dies without stopping it."""
    if sys.platform == "linux":
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
    sys.exit(130)
