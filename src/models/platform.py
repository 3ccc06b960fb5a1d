"""Platform keys in the grammar the Tauri updater looks up.

``{os}-{arch}`` with an optional installer suffix (``linux-x86_64-deb``). The suffix
must belong to the OS: a Windows install never asks for ``-deb``.
"""

from __future__ import annotations

from collections.abc import Collection

from ferryman.models.errors import InvalidInput

OPERATING_SYSTEMS = ("linux", "darwin", "windows")
ARCHITECTURES = ("x86_64", "i686", "aarch64", "armv7", "riscv64")
INSTALLERS = {
    "linux": ("appimage", "deb", "rpm"),
    "darwin": ("app",),
    "windows": ("msi", "nsis"),
}
# What the updater installs when it cannot tell its bundle type (older plugins, `tauri dev`):
# the key a check without a usable bundle type falls back to when no plain OS-ARCH key exists.
DEFAULT_INSTALLER = {"linux": "appimage", "darwin": "app", "windows": "nsis"}
# Installers that refuse another format's file (dpkg and rpm check the magic bytes), so a
# plain key must never stand in for theirs.
STRICT_INSTALLERS = frozenset({"deb", "rpm"})
MAX_LENGTH = 32


def validate_platform(value: str, field: tuple[str, ...] = ("platform",)) -> str:
    """Return ``value`` when it is a platform key Tauri can ask for, else raise InvalidInput."""
    parts = value.split("-")
    valid = (
        2 <= len(parts) <= 3
        and parts[0] in OPERATING_SYSTEMS
        and parts[1] in ARCHITECTURES
        and (len(parts) == 2 or parts[2] in INSTALLERS[parts[0]])
    )
    if not valid:
        raise InvalidInput(
            f"{value[: MAX_LENGTH * 2]!r} is not a platform: use OS-ARCH with an optional "
            f"installer, OS one of {', '.join(OPERATING_SYSTEMS)}, ARCH one of "
            f"{', '.join(ARCHITECTURES)}, installer appimage/deb/rpm (linux), app (darwin) "
            "or msi/nsis (windows); for example darwin-aarch64 or linux-x86_64-deb",
            field,
        )
    return value


def every_key() -> dict[str, list[str]]:
    """Every platform key an artifact may have, by OS: the choices a person picks from."""
    return {
        os: [
            f"{os}-{arch}{suffix}"
            for arch in ARCHITECTURES
            for suffix in ("", *(f"-{installer}" for installer in INSTALLERS[os]))
        ]
        for os in OPERATING_SYSTEMS
    }


def lookup_keys(stored: Collection[str]) -> dict[str, str]:
    """Every key a client may look up in a release, mapped to the stored key answering it.

    A plain ``OS-ARCH`` key is the release's own, or else its default installer's
    (``windows-x86_64-nsis`` answers ``windows-x86_64``): checks without a bundle type, and
    clients older than bundle-specific keys, look up only the plain key.
    """
    served = {key: key for key in stored}
    for key in stored:
        os, arch, *installer = key.split("-")
        if installer == [DEFAULT_INSTALLER[os]]:
            served.setdefault(f"{os}-{arch}", key)
    return served
