import pytest

from ferryman.models.errors import InvalidInput
from ferryman.models.platform import every_key, validate_platform


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


def test_every_key_a_person_may_choose_is_a_valid_one_grouped_by_os() -> None:
    keys = every_key()
    assert list(keys) == ["linux", "darwin", "windows"]
    chosen = [key for group in keys.values() for key in group]
    assert all(validate_platform(key) == key for key in chosen)
    assert len(set(chosen)) == len(chosen) == 45
    assert {"darwin-aarch64", "linux-x86_64-deb", "windows-i686-nsis"} <= set(chosen)
    assert all(key.startswith(os) for os, group in keys.items() for key in group)
