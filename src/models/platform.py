"""Platform keys in the grammar the Tauri updater looks up.

``{os}-{arch}`` with an optional installer suffix (``linux-x86_64-deb``). The suffix
must belong to the OS: a Windows install never asks for ``-deb``.
"""

from __future__ import annotations

from ferryman.models.errors import InvalidInput

OPERATING_SYSTEMS = ("linux", "darwin", "windows")
ARCHITECTURES = ("x86_64", "i686", "aarch64", "armv7", "riscv64")
INSTALLERS = {
    "linux": ("appimage", "deb", "rpm"),
    "darwin": ("app",),
    "windows": ("msi", "nsis"),
}
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
