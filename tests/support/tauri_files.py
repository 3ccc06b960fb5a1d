"""The committed files signed with the Tauri CLI (``tests/data/tauri``; its README says
which key signed which file, and which version each signature names)."""

from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).parents[1] / "data" / "tauri"
APPIMAGE = "MyApp_1.2.3_amd64.AppImage"  # signed by app.pub, trusted comment version:1.2.3
TARBALL = "MyApp.app.tar.gz"  # signed by app.pub, no version


def data(name: str) -> bytes:
    return (DATA / name).read_bytes()


def text(name: str) -> str:
    return (DATA / name).read_text()


APP_PUB = text("app.pub")
