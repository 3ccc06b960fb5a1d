import pytest

from ferryman.models.errors import InvalidInput
from ferryman.models.platform import validate_platform


@pytest.mark.parametrize(
    "key",
    [
        "darwin-aarch64",
        "darwin-x86_64",
        "windows-x86_64",
        "linux-x86_64",
        "linux-i686",
        "linux-armv7",
        "linux-riscv64",
        "linux-x86_64-appimage",
        "linux-aarch64-deb",
        "linux-x86_64-rpm",
        "darwin-aarch64-app",
        "windows-x86_64-msi",
        "windows-i686-nsis",
    ],
)
def test_accepts_tauri_platform_keys(key: str) -> None:
    assert validate_platform(key) == key


@pytest.mark.parametrize(
    "key",
    [
        "darwin-universal",
        "macos-aarch64",
        "windows-x86_64-deb",
        "linux-x86_64-msi",
        "darwin-aarch64-dmg",
        "Darwin-aarch64",
        "darwin",
        "darwin-aarch64-app-x",
        "",
        "linux_x86_64",
    ],
)
def test_rejects_other_keys_listing_the_accepted_values(key: str) -> None:
    with pytest.raises(InvalidInput) as error:
        validate_platform(key)
    message = error.value.message
    assert "linux, darwin, windows" in message
    assert "x86_64, i686, aarch64, armv7, riscv64" in message
    assert error.value.field == ("platform",)
