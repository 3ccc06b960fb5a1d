"""Real local services for the tests: free ports and a throwaway PostgreSQL cluster."""

from __future__ import annotations

import glob
import http.server
import json
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def sqlite_url(path: Path) -> str:
    return f"sqlite://{path}"


def postgres_bin() -> Path:
    """Where initdb and pg_ctl live (Debian keeps them off PATH)."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_major, reverse=True)
    found = candidates[0] if candidates else shutil.which("initdb")
    if not found:
        raise RuntimeError(
            "PostgreSQL server binaries not found: install them (Debian: apt-get install "
            "postgresql) or run the suite without --db postgres"
        )
    return Path(found).parent


def _major(path: str) -> int:
    version = Path(path).parent.parent.name
    return int(version) if version.isdigit() else 0


@dataclass
class PostgresCluster:
    """A private cluster in a temporary folder, on a free loopback port, trust auth."""

    directory: Path
    port: int
    bin: Path

    @classmethod
    def start(cls) -> PostgresCluster:
        directory = Path(tempfile.mkdtemp(prefix="ferryman-pg-"))
        cluster = cls(directory=directory, port=free_port(), bin=postgres_bin())
        if os.geteuid() == 0:  # the server refuses to run as root
            user = pwd.getpwnam("postgres")
            os.chown(directory, user.pw_uid, user.pw_gid)
        cluster._as_owner(
            str(cluster.bin / "initdb"),
            "-D",
            str(directory / "data"),
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
        )
        options = (
            f"-p {cluster.port} -k {directory} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off"
        )
        cluster._as_owner(
            str(cluster.bin / "pg_ctl"),
            "-D",
            str(directory / "data"),
            "-l",
            str(directory / "server.log"),
            "-o",
            options,
            "-w",
            "start",
        )
        return cluster

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str, template: str | None = None) -> None:
        sql = f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")
        self.psql(sql)

    def psql(self, sql: str) -> str:
        result = subprocess.run(
            [
                "psql",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-v",
                "ON_ERROR_STOP=1",
                "-qAtc",
                sql,
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        return result.stdout

    def stop(self) -> None:
        try:
            self._as_owner(
                str(self.bin / "pg_ctl"),
                "-D",
                str(self.directory / "data"),
                "-m",
                "fast",
                "stop",
            )
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)

    def _as_owner(self, *command: str) -> None:
        if os.geteuid() == 0:
            command = ("runuser", "-u", "postgres", "--", *command)
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            log = self.directory / "server.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(
                f"{' '.join(command)} failed ({result.returncode}): {result.stderr}\n{tail}"
            )


class FakeCloudflare:
    """A real HTTP server on loopback that answers like Cloudflare's purge API and records
    every call. ``fail_next`` makes the next calls fail with a 500."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, str], dict[str, object]]] = []
        self.fail_next = 0
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                fake.calls.append((self.path, dict(self.headers), body))
                if fake.fail_next > 0:
                    fake.fail_next -= 1
                    status, answer = 500, {"success": False, "errors": [{"code": 10000}]}
                else:
                    status, answer = 200, {"success": True, "errors": [], "result": {"id": "x"}}
                payload = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/client/v4"

    @property
    def purged(self) -> list[list[str]]:
        return [body["tags"] for _, _, body in self.calls]  # type: ignore[misc]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
