"""Real local services for the tests: free ports, a throwaway PostgreSQL cluster, and the
Ferryman server itself as a child process."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import ctypes
import glob
import http.server
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TypeVar

import asyncpg
import httpx

T = TypeVar("T")


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


class ClusterSession:
    """One connection to a cluster's ``postgres`` database, kept open on a thread of its
    own: each statement costs a round trip rather than starting ``psql``, and a statement
    submitted runs while the test goes on (CREATE DATABASE for the next test)."""

    def __init__(self, cluster: PostgresCluster) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="postgres-session", daemon=True
        )
        self._thread.start()
        self._lock = asyncio.Lock()  # one statement at a time on the connection
        connect = asyncpg.connect(
            host="127.0.0.1", port=cluster.port, user="postgres", database="postgres"
        )
        self._connection: asyncpg.Connection = self._run(connect).result()

    def submit(self, sql: str) -> concurrent.futures.Future[str]:
        """Run ``sql`` in the background; the future holds its status line."""
        return self._run(self._execute(sql))

    async def _execute(self, sql: str) -> str:
        async with self._lock:
            status: str = await self._connection.execute(sql)
            return status

    async def _close(self) -> None:
        async with self._lock:
            await self._connection.close(timeout=5)

    def close(self) -> None:
        """Close the connection once the statements submitted so far have run."""
        with contextlib.suppress(Exception):
            self._run(self._close()).result()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    def _run(self, work: Coroutine[object, object, T]) -> concurrent.futures.Future[T]:
        return asyncio.run_coroutine_threadsafe(work, self._loop)


class PortTaken(RuntimeError):
    """Another process bound the server's port first."""


class ServerProcess:
    """``python -m ferryman serve`` as a child process on a free loopback port.

    Configured only by ``env`` (``FERRYMAN_*`` variables; inherited ones are dropped so the
    developer's shell cannot leak in), with its output appended to ``log`` across restarts.
    Several may run at once on one database (each has its own port), and ``restart()``
    comes back on the same port. The server runs in a process group of its own, so
    ``kill()`` takes uvicorn's worker processes down with it, as a crash of the host would.
    Use it as a context manager, or call ``terminate()``, to stop it.
    """

    def __init__(self, env: Mapping[str, str], log: Path, *, port: int | None = None) -> None:
        self._fixed_port = port is not None
        self._own_public_url = "FERRYMAN_PUBLIC_URL" not in env
        self.port = port if port is not None else free_port()
        self.log = log
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("FERRYMAN_")}
        self.env: dict[str, str] = {
            **inherited,
            "FERRYMAN_PUBLIC_URL": self.url,
            **env,
            "FERRYMAN_HOST": "127.0.0.1",
            "FERRYMAN_PORT": str(self.port),
        }
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.process is not None and not _exited(self.process)

    def command(self, *args: str, timeout: float = 60) -> str:
        """Run another ``ferryman`` command (``keys create``, ``migrate``...) with this
        server's settings; returns its standard output, or fails with its error output."""
        result = subprocess.run(
            [sys.executable, "-m", "ferryman", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"ferryman {' '.join(args)} exited with {result.returncode}:\n"
                f"{result.stdout}{result.stderr}"
            )
        return result.stdout

    def start(self, timeout: float = 30) -> None:
        """Start the server and wait until ``/readyz`` answers 200 (its database is there).

        A port chosen here can be taken by another process (a parallel test's S3 server)
        before the server binds it: then it starts again on a new port, once or twice."""
        for attempt in range(3):
            try:
                self._start(timeout)
                return
            except PortTaken:
                if self._fixed_port or attempt == 2:
                    raise
                self._move_to(free_port())

    def _start(self, timeout: float) -> None:
        if self.running:
            raise RuntimeError(f"the server on {self.url} is already running")
        with self.log.open("ab") as output:
            output.write(f"--- ferryman serve on {self.url} ---\n".encode())
            output.flush()
            self.process = subprocess.Popen(
                [sys.executable, "-m", "ferryman", "serve"],
                env=self.env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        self.wait_ready(timeout)

    def _move_to(self, port: int) -> None:
        self.port = port
        self.env["FERRYMAN_PORT"] = str(port)
        if self._own_public_url:
            self.env["FERRYMAN_PUBLIC_URL"] = self.url

    def wait_ready(self, timeout: float = 30) -> None:
        """Wait for ``/readyz`` to answer 200 from this server (its answers carry a request
        id; another program on the port is not it)."""
        deadline = time.monotonic() + timeout
        while True:
            with contextlib.suppress(httpx.TransportError):
                answer = httpx.get(f"{self.url}/readyz", timeout=5)
                if answer.status_code == 200 and "x-request-id" in answer.headers:
                    return
            if not self.running:
                tail = self.log_tail()
                if "address already in use" in tail.lower():
                    raise PortTaken(f"port {self.port} was taken before the server bound it")
                raise RuntimeError(f"the server on {self.url} exited:\n{tail}")
            if time.monotonic() > deadline:
                self.terminate()
                raise RuntimeError(
                    f"the server on {self.url} was not ready within {timeout:.0f} s:\n"
                    f"{self.log_tail()}"
                )
            time.sleep(0.05)

    def terminate(self, timeout: float = 15) -> int | None:
        """Stop gracefully (SIGTERM), SIGKILL after ``timeout``; returns the exit status."""
        process = self.process
        if process is None:
            return None
        if not _exited(process):
            os.kill(process.pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while not _exited(process) and time.monotonic() < deadline:
                time.sleep(0.05)
        return self._kill_group(process)

    def kill(self) -> int | None:
        """SIGKILL the server and every process of its group: no shutdown code runs."""
        process = self.process
        return None if process is None else self._kill_group(process)

    def restart(self, timeout: float = 30) -> None:
        """Stop the server if it still runs, then start it again on the same port."""
        self.terminate()
        self.start(timeout)

    def log_text(self) -> str:
        with contextlib.suppress(OSError):
            return self.log.read_text(errors="replace")
        return ""

    def log_tail(self, size: int = 4000) -> str:
        return self.log_text()[-size:]

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.terminate()

    @staticmethod
    def _kill_group(process: subprocess.Popen[bytes]) -> int:
        # The group id is the server's pid (start_new_session), reserved until it is
        # reaped below, so this reaches only its own group: uvicorn's workers included.
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
        return process.wait()


def _exited(process: subprocess.Popen[bytes]) -> bool:
    """Whether the process has ended, without reaping it (its pid stays reserved)."""
    if process.returncode is not None:
        return True
    return os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None


def _die_with_parent() -> None:
    """In the child: ask Linux to stop the server if the test run dies without stopping it."""
    if sys.platform == "linux":
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


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
