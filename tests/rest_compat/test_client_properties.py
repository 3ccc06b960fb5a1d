"""Properties over random release histories: every answer is one the Tauri client takes.

For random histories (versions with pre-release and build parts, published in any order,
each with a random set of platform keys), every install (OS, arch, bundle type, current
version) asks through each URL form, and ``tests.tauri_client`` judges the answer with the
updater plugin's own rules (2.13 and 2.0):

- it parses (reference §2.2): 204, or JSON the client deserialises;
- the key lookup succeeds whenever an update exists for the install's platform, and a
  check without an arch never fails an install of an architecture the app published;
- the version offered is newer than the install's by Rust ``semver`` order (§2.5), and is
  the newest release the install can be served.

Releases here get their READY artifacts written directly (:mod:`tests.support.rows`): the
subject is the choice and the wire format; uploads and verification are covered by
``test_client_rules``.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ferryman.settings import Settings
from ferryman.versions import InvalidVersion, Version
from tests import tauri_client
from tests.conftest import peer, serving
from tests.support import rows

POOL = [
    "0.1.0",
    "1.0.0-beta.2",
    "1.0.0-beta.11",
    "1.0.0",
    "1.0.0+1",
    "1.0.0+2",
    "1.0.0+10",
    "1.1.0",
    "2.0.0-rc.1",
    "2.0.0",
]
CURRENT = [*POOL, "0.0.1", "1.0.0+01", "3.0.0"]
KEYS = [
    "darwin-x86_64",
    "darwin-aarch64",
    "darwin-aarch64-app",
    "linux-x86_64",
    "linux-x86_64-appimage",
    "linux-x86_64-deb",
    "linux-aarch64-rpm",
    "windows-x86_64",
    "windows-x86_64-nsis",
    "windows-x86_64-msi",
    "windows-i686-nsis",
]
INSTALLS = [
    ("darwin", "x86_64", None),
    ("darwin", "aarch64", "app"),
    ("linux", "x86_64", None),
    ("linux", "x86_64", "appimage"),
    ("linux", "x86_64", "deb"),
    ("linux", "aarch64", "rpm"),
    ("windows", "x86_64", None),
    ("windows", "x86_64", "msi"),
    ("windows", "x86_64", "nsis"),
    ("windows", "i686", "unknown"),
]
DEFAULT = {"darwin": "app", "linux": "appimage", "windows": "nsis"}

histories = st.lists(
    st.tuples(st.sampled_from(POOL), st.sets(st.sampled_from(KEYS), min_size=1, max_size=4)),
    min_size=1,
    max_size=5,
    unique_by=lambda release: release[0],
)


def rust(text: str) -> tauri_client.RustVersion:
    return tauri_client.parse_version(text)


def answers(files: set[str], os: str, arch: str) -> set[str]:
    """The keys one release answers for an install: its own, and the plain key that its
    default installer stands in for."""
    plain = f"{os}-{arch}"
    found = {key for key in files if key == plain or key.startswith(f"{plain}-")}
    if plain not in files and f"{plain}-{DEFAULT[os]}" in files:
        found.add(plain)
    return found


def expected_dynamic(
    history: list[tuple[str, set[str]]], os: str, arch: str, bundle: str | None, current: str
) -> str | None:
    """The newest release with the install's key: its bundle's own key whenever the app
    publishes one, else the plain key (or the default installer standing in for it)."""
    plain = f"{os}-{arch}"
    specific = f"{plain}-{bundle}" if bundle not in (None, "unknown") else None
    published = set().union(*(answers(files, os, arch) for _, files in history))
    key = specific if specific in published else plain
    having = [version for version, files in history if key in answers(files, os, arch)]
    newest = max(having, key=rust, default=None)
    return newest if newest is not None and rust(newest) > rust(current) else None


@pytest.fixture
async def unlimited(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a server without an update-check rate limit (this test makes thousands)."""
    async with serving(settings, rate_limit_updates=0) as application, peer(application) as c:
        yield c


@settings(
    max_examples=150,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(history=histories, current=st.sampled_from(CURRENT))
async def test_every_answer_is_one_the_client_takes(
    unlimited: httpx.AsyncClient, history: list[tuple[str, set[str]]], current: str
) -> None:
    slug = f"prop-{uuid.uuid4().hex[:12]}"
    for version, files in history:
        await rows.publish(slug, version, sorted(files))
    for (os, arch, bundle), plugin in itertools.product(INSTALLS, ("new", "2024")):
        query = f"?bundle_type={bundle}" if bundle else ""
        quoted = current.replace("+", "%2B")
        for form, path in (
            ("arch", f"{os}/{arch}"),
            ("platform", f"{os}-{arch}"),
            ("target", os),
        ):
            response = await unlimited.get(f"/{slug}/update/{path}/{quoted}{query}")
            assert response.status_code in (200, 204), response.text
            case = (form, os, arch, bundle, plugin, current, history)
            if response.status_code == 200:
                manifest = tauri_client.parse_manifest(response.content)
                assert rust(str(manifest.version)) > rust(current), case
            published_arch = any(answers(files, os, arch) for _, files in history)
            if form == "target" and not published_arch:
                continue  # no install of an architecture never published exists
            update = tauri_client.check(
                response.status_code, response.content, current, os, arch, bundle, plugin=plugin
            )
            if form != "target":
                wanted = expected_dynamic(history, os, arch, bundle, current)
                assert (None if update is None else str(update.version)) == wanted, case


@settings(max_examples=500, deadline=None, derandomize=True)
@given(
    text=st.from_regex(
        r"v?(0|[1-9][0-9]{0,20}|0[0-9])\.(0|[1-9][0-9]?)\.(0|[1-9])"
        r"(-([0-9A-Za-z-]{1,3}|0[0-9])(\.[0-9A-Za-z-]{1,3}){0,2})?"
        r"(\+[0-9A-Za-z-]{1,3}(\.[0-9A-Za-z-]{1,3}){0,2})?",
        fullmatch=True,
    ),
    other=st.sampled_from(CURRENT),
)
def test_version_parsing_and_order_match_rust_semver(text: str, other: str) -> None:
    """Client rule (reference §1, §2.5): the server accepts a version exactly when the
    client's semver parser does, and orders versions as its ``Ord`` does."""
    try:
        ours: Version | None = Version.parse(text)
    except InvalidVersion:
        ours = None
    try:
        theirs: tauri_client.RustVersion | None = rust(text)
    except tauri_client.ClientError:
        theirs = None
    assert (ours is None) == (theirs is None), text
    if ours is not None and theirs is not None:
        assert str(ours) == str(theirs)
        assert (ours < Version.parse(other)) == (theirs < rust(other)), (text, other)
        assert (ours == Version.parse(other)) == (theirs == rust(other)), (text, other)
