"""Version parsing and the Tauri client's order (Rust semver: build metadata counts)."""

import itertools

import pytest

from ferryman.versions import InvalidVersion, Version


@pytest.mark.parametrize(
    "ascending",
    [
        [
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
        ],
        ["1.0.0", "1.0.0+1", "1.0.0+2", "1.0.0+10"],
        ["1.0.0+0", "1.0.0+00", "1.0.0+1", "1.0.0+01", "1.0.0+001", "1.0.0+2", "1.0.0+a"],
        ["1.0.0+build", "1.0.0+build.1", "1.0.0+build.1.1"],
        ["0.9.99", "1.0.0-rc.1+5", "1.0.0", "1.0.1", "1.2.0", "1.10.0", "2.0.0"],
    ],
)
def test_order_matches_the_tauri_client(ascending: list[str]) -> None:
    parsed = [Version.parse(text) for text in ascending]
    for lower, higher in itertools.pairwise(parsed):
        assert lower < higher, (lower, higher)
    assert sorted(reversed(parsed)) == parsed


def test_build_metadata_makes_versions_distinct() -> None:
    assert Version.parse("1.0.0+1") != Version.parse("1.0.0+2")
    assert hash(Version.parse("1.0.0+1")) != hash(Version.parse("1.0.0"))
    assert len({Version.parse("1.0.0"), Version.parse("1.0.0+1")}) == 2


@pytest.mark.parametrize(
    ("text", "canonical"),
    [("v1.2.3", "1.2.3"), ("vv2.0.0-rc.1", "2.0.0-rc.1"), ("1.2.3+45", "1.2.3+45")],
)
def test_leading_v_is_stripped_and_canonical_form_kept(text: str, canonical: str) -> None:
    assert str(Version.parse(text)) == canonical
    assert Version.parse(text) == Version.parse(canonical)


@pytest.mark.parametrize(
    "text",
    [
        "1.2",
        "01.2.3",
        "1.02.3",
        "1.2.3 ",
        " 1.2.3",
        "1.2.3\n",
        "latest",
        "",
        "V1.2.3",
        "1.2.3-01",
        "1.2.3-",
        "1.2.3+",
        "1.2.3.4",
        "1" + ".0" * 100,
    ],
)
def test_rejects_what_the_client_rejects(text: str) -> None:
    with pytest.raises(InvalidVersion) as error:
        Version.parse(text)
    assert "version" in str(error.value)


def test_error_says_what_is_accepted() -> None:
    with pytest.raises(InvalidVersion, match=r"MAJOR\.MINOR\.PATCH"):
        Version.parse("latest")
