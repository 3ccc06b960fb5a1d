"""Keys and signatures made by the real Tauri CLI (installed under var/ by scripts/test).

Each call takes the CLI a second or two, mostly waiting, so callers start several at once.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
from pathlib import Path

import pytest

TAURI_CLI = (
    Path(__file__).parent.parent.parent / "var" / "tauri-cli" / "node_modules" / ".bin" / "tauri"
)

needs_cli = pytest.mark.skipif(
    not TAURI_CLI.exists() and os.environ.get("CI") != "true",
    reason="the Tauri CLI is installed by scripts/test",
)


async def signer(*args: str, cwd: Path) -> None:
    """Run ``tauri signer ARGS`` (without a password) in ``cwd``."""
    process = await asyncio.create_subprocess_exec(
        str(TAURI_CLI),
        "signer",
        *args,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, err.decode()


@dataclasses.dataclass(frozen=True)
class CliKey:
    """A key pair ``tauri signer generate`` wrote."""

    path: Path

    @property
    def public_key(self) -> str:
        """The content of its .pub file, as apps hold it."""
        return self.path.with_suffix(".key.pub").read_text()

    async def sign(self, file: Path, version: str) -> str:
        """The content of the .sig file ``tauri signer sign --app-version`` writes."""
        await signer(
            "sign",
            "-f",
            str(self.path),
            "-p",
            "",
            "--app-version",
            version,
            file.name,
            cwd=file.parent,
        )
        return file.with_name(f"{file.name}.sig").read_text()


async def generate(folder: Path, name: str) -> CliKey:
    await signer("generate", "--ci", "-w", f"{name}.key", "-p", "", cwd=folder)
    return CliKey(folder / f"{name}.key")
