"""``pip install ferryman`` on a CI runner is the publish client alone: a clean virtualenv
gets click, httpx and rich, none of the server's stack, and publishes to a real server."""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

from tests.support.tauri_files import APPIMAGE

ROOT = Path(__file__).parent.parent
SERVER_ONLY = ("tortoise-orm", "strawberry-graphql", "uvicorn", "aioboto3", "asyncpg", "starlette")


def run(*args: str | Path, cwd: Path | None = None) -> str:
    result = subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_the_client_installs_alone_and_publishes(
    publish_server: tuple[str, str], bundle: Path, tmp_path: Path
) -> None:
    wheels = tmp_path / "wheels"
    run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
        "-w", wheels, ROOT)  # fmt: skip
    clean = tmp_path / "venv"
    venv.create(clean, with_pip=True)
    [wheel] = wheels.glob("ferryman-*.whl")
    run(clean / "bin" / "pip", "install", "-q", "--disable-pip-version-check", wheel)

    installed = run(clean / "bin" / "pip", "list", "--format=freeze").lower()
    assert {"click", "httpx", "rich"} <= {line.split("==")[0] for line in installed.split()}
    assert not [name for name in SERVER_ONLY if f"{name}==" in installed]

    base, key = publish_server
    out = run(
        clean / "bin" / "ferryman", "publish", "--server", base, "--api-key", key,
        "--app", "my-app", "--version", "1.2.3", "--publish", bundle, cwd=tmp_path,
    )  # fmt: skip
    assert "published my-app 1.2.3" in out
    assert APPIMAGE in out
