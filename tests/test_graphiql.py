"""GraphiQL end to end, as a newcomer meets it, and the self-hosted assets behind it.

The main test runs the README's path for real: ``ferryman dev`` in a subprocess on a
free port, the admin key read from what it prints, and GraphiQL driven in headless
Chromium (Debian's, through Playwright; no browser download) with every request that
would leave this machine blocked and recorded. The smaller tests check the HTML and the
asset route in process: with the assets installed by the set-up scripts the page loads
them from ``/static/graphiql/``, and without them it falls back to the CDN.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config
from playwright.async_api import Page, Request, Route, async_playwright
from strawberry.http.ides import get_graphql_ide_html

from ferryman.graphiql import MOUNT
from ferryman.local_s3 import Credentials
from ferryman.settings import Settings
from tests.conftest import peer, serving
from tests.console.conftest import CHROMIUM_ARGS
from tests.services import free_port

ROOT = Path(__file__).resolve().parents[1]
PINS = ROOT / "deploy" / "graphiql"
ASSETS = ROOT / "var" / "graphiql" / "node_modules"
CDN = re.compile(r'(?:src|href)="https://unpkg\.com/((?:@[^/"]+/)?[^@/"]+)@([^/"]+)/([^"]+)"')


QUERY_EDITOR = ".graphiql-query-editor .CodeMirror"
HEADERS_EDITOR = ".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror"
RESULT_PANE = ".graphiql-response .CodeMirror"


def require_assets() -> Path:
    if not all((ASSETS / package).is_dir() for package in ("graphiql", "react", "react-dom")):
        pytest.fail(
            f"GraphiQL assets are not installed in {ASSETS}: run scripts/test (or: "
            "cp deploy/graphiql/package*.json var/graphiql/ && npm ci --prefix var/graphiql)"
        )
    return ASSETS


def require_chromium() -> str:
    found = shutil.which("chromium")
    if found is None:
        pytest.fail(
            "Debian's chromium is not installed: run scripts/test as root, or "
            "apt-get install chromium (Playwright's own browser download is never used)"
        )
    return found


# --- the real server, as `ferryman dev` ---------------------------------------------------


class ServerExited(Exception):
    """The server process ended before it answered."""


@dataclasses.dataclass
class DevServer:
    """``ferryman dev`` in a subprocess, with its output in a file."""

    process: subprocess.Popen[bytes]
    url: str
    log: Path

    @classmethod
    def start(cls, workdir: Path, database: Path, assets: Path, attempts: int = 3) -> DevServer:
        """Start it on a free port; try another port if that one was taken in between."""
        log = workdir / f"server-{database.stem}-{time.monotonic_ns()}.log"
        for attempt in range(1, attempts + 1):
            server = cls._launch(workdir, database, assets, log)
            try:
                server.wait_ready()
            except ServerExited as exited:
                server.stop()  # whatever it started before it failed
                if attempt < attempts and "address already in use" in server.output:
                    continue
                pytest.fail(str(exited))
            except BaseException:
                server.stop()
                raise
            return server
        raise AssertionError("unreachable")

    @classmethod
    def _launch(cls, workdir: Path, database: Path, assets: Path, log: Path) -> DevServer:
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("FERRYMAN_")}
        env.update(
            FERRYMAN_HOST="127.0.0.1",
            FERRYMAN_PORT=str(port),
            FERRYMAN_DATABASE_URL=f"sqlite://{database}",
            FERRYMAN_GRAPHIQL_ASSETS=str(assets),
            PYTHONUNBUFFERED="1",
        )
        with log.open("ab") as out:  # every attempt's output, so a printed key is never lost
            process = subprocess.Popen(
                [sys.executable, "-m", "ferryman", "dev"],
                cwd=workdir,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: what it starts, we can find
            )
        return cls(process, f"http://127.0.0.1:{port}", log)

    @property
    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerExited(
                    f"ferryman dev exited with {self.process.returncode}:\n{self.output}"
                )
            if f"GraphiQL: {self.url}/graphql" in self.output:
                try:
                    if httpx.get(self.url + "/healthz", timeout=2).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
            time.sleep(0.1)
        pytest.fail(f"ferryman dev did not answer within {timeout:.0f} s:\n{self.output}")

    def stop(self) -> list[str]:
        """By PID: terminate, wait, kill as the fallback.

        Returns the command lines of processes the server started and left running
        (stopped here too, so that a failing check leaks nothing).
        """
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        left = _group_members(self.process.pid)
        if left:
            _stop_group(self.process.pid)
        return list(left.values())


def _group_members(pgid: int) -> dict[int, str]:
    """Live processes in a process group, with their command lines (Linux /proc)."""
    members = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except (OSError, IndexError):
            continue  # ended while we looked
        if int(fields[2]) == pgid and fields[0] != "Z":
            members[int(stat.parent.name)] = cmdline.replace(b"\0", b" ").decode().strip()
    return members


def _stop_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    while _group_members(pgid) and time.monotonic() < deadline:
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


@pytest.fixture
def dev_server(tmp_path: Path) -> Iterator[DevServer]:
    server = DevServer.start(tmp_path, tmp_path / "ferryman.sqlite3", require_assets())
    yield server
    assert server.stop() == [], "`ferryman dev` left processes running after SIGTERM"


def printed_key(output: str) -> tuple[str, str]:
    """The secret and the headers JSON, from the lines `ferryman dev` prints on first start."""
    secret = re.search(r"^ {4}(uk_live_[0-9A-Za-z]+)$", output, re.MULTILINE)
    headers = re.search(r'^ {4}(\{"Authorization": "Bearer uk_live_[^"]+"\})$', output, re.M)
    assert secret is not None, f"no admin key printed:\n{output}"
    assert headers is not None, f"no headers line printed:\n{output}"
    assert json.loads(headers[1]) == {"Authorization": f"Bearer {secret[1]}"}
    return secret[1], headers[1]


# --- GraphiQL in Chromium -------------------------------------------------------------------


@dataclasses.dataclass
class Traffic:
    """What the page asked for: local responses, and requests stopped on their way out."""

    origin: str
    blocked: list[str] = dataclasses.field(default_factory=list)
    local: dict[str, int] = dataclasses.field(default_factory=dict)
    console_errors: list[str] = dataclasses.field(default_factory=list)

    async def route(self, route: Route, request: Request) -> None:
        if request.url.startswith(self.origin + "/"):
            await route.continue_()
        else:
            self.blocked.append(request.url)
            await route.abort("internetdisconnected")


@pytest.fixture
async def browser_page(dev_server: DevServer) -> AsyncIterator[tuple[Page, Traffic]]:
    executable = require_chromium()
    traffic = Traffic(dev_server.url)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 800})
            await page.route("**/*", traffic.route)
            page.on("response", lambda r: traffic.local.__setitem__(r.url, r.status))
            page.on(
                "console",
                lambda m: traffic.console_errors.append(m.text) if m.type == "error" else None,
            )
            yield page, traffic
        finally:
            await browser.close()


async def type_into(page: Page, editor: str, text: str) -> None:
    """Select everything in a GraphiQL editor and paste ``text`` over it."""
    await page.locator(editor).click()
    await page.keyboard.press("Control+A")
    await page.keyboard.insert_text(text)
    assert await editor_text(page, editor) == text


async def editor_text(page: Page, editor: str) -> str:
    text: str = await page.evaluate(
        "s => { const e = document.querySelector(s); return e ? e.CodeMirror.getValue() : '' }",
        editor,
    )
    return text


async def run(page: Page, document: str) -> dict[str, Any]:
    """Type an operation, press Run, and read the JSON the result pane shows."""
    await type_into(page, QUERY_EDITOR, document)
    return await execute(page)


async def execute(page: Page) -> dict[str, Any]:
    """Press Run, and read the JSON the result pane shows."""
    before = await editor_text(page, RESULT_PANE)
    await page.get_by_role("button", name="Execute query (Ctrl-Enter)").click()
    await page.wait_for_function(
        """([selector, before]) => {
            const editor = document.querySelector(selector);
            const text = editor ? editor.CodeMirror.getValue() : "";
            return text.trim().startsWith("{") && text !== before;
        }""",
        arg=[RESULT_PANE, before],
        timeout=15_000,
    )
    shown: dict[str, Any] = json.loads(await editor_text(page, RESULT_PANE))
    assert "errors" not in shown, shown
    return shown


APP_CREATE = """mutation {
  appCreate(input: {slug: "acme-notes", name: "Acme Notes"}) {
    app { id slug name }
    userErrors { field message code }
  }
}"""

RELEASE_CREATE = """mutation {
  releaseCreate(appId: "%s", input: {version: "1.0.0", notes: "First release"}) {
    release { id version status }
    userErrors { field message code }
  }
}"""

API_KEY_CREATE = """mutation {
  apiKeyCreate(input: {name: "GitHub Actions", scope: CI, appId: "%s"}) {
    apiKey { id scope prefix app { slug } }
    secret
    userErrors { field message code }
  }
}"""

APP_RENAME = """mutation {
  appUpdate(id: "%s", input: {name: "Acme Notes 2"}) {
    app { name }
    userErrors { field message code }
  }
}"""

AUDIT_EVENTS = """{
  auditEvents(first: 10) {
    totalCount
    edges { node { action targetId } }
  }
}"""


async def test_newcomer_drives_graphiql_with_the_printed_key(
    dev_server: DevServer, browser_page: tuple[Page, Traffic], tmp_path: Path
) -> None:
    page, traffic = browser_page
    _, headers = printed_key(dev_server.output)
    graphiql_url = re.search(r"GraphiQL: (\S+)", dev_server.output)
    assert graphiql_url is not None
    assert graphiql_url[1] == dev_server.url + "/graphql"

    await page.goto(graphiql_url[1])
    await page.locator(QUERY_EDITOR).wait_for(timeout=20_000)
    assets = {url: status for url, status in traffic.local.items() if MOUNT in url}
    assert len(assets) == 7, assets
    assert set(assets.values()) == {200}, assets

    # It opens on Ferryman's own example, with the header it needs already in place.
    assert await page.title() == "Ferryman GraphQL"
    assert "apps(first: 10)" in await editor_text(page, QUERY_EDITOR)
    await page.get_by_role("button", name="Headers", exact=True).click()
    template = json.loads(await editor_text(page, HEADERS_EDITOR))
    assert template == {"Authorization": "Bearer uk_live_..."}
    await type_into(page, HEADERS_EDITOR, headers)
    example = (await execute(page))["data"]["apps"]  # as it opened, Ctrl-Enter and all
    assert example == {"totalCount": 0, "edges": []}

    created = (await run(page, APP_CREATE))["data"]["appCreate"]
    assert created["userErrors"] == []
    app = created["app"]
    assert app["slug"] == "acme-notes"
    assert app["id"].startswith("app_")

    drafted = (await run(page, RELEASE_CREATE % app["id"]))["data"]["releaseCreate"]
    assert drafted["userErrors"] == []
    release = drafted["release"]
    assert (release["version"], release["status"]) == ("1.0.0", "DRAFT")

    minted = (await run(page, API_KEY_CREATE % app["id"]))["data"]["apiKeyCreate"]
    assert minted["userErrors"] == []
    assert minted["apiKey"]["scope"] == "CI"
    assert minted["apiKey"]["app"] == {"slug": "acme-notes"}
    assert minted["secret"].startswith(minted["apiKey"]["prefix"])

    trail = (await run(page, AUDIT_EVENTS))["data"]["auditEvents"]
    events = [(edge["node"]["action"], edge["node"]["targetId"]) for edge in trail["edges"]]
    assert events[:3] == [
        ("api_key.create", minted["apiKey"]["id"]),
        ("release.create", release["id"]),
        ("app.create", app["id"]),
    ]
    # and what `ferryman dev` made on its first start: the admin key and the first owner
    assert trail["totalCount"] == 5
    assert sorted(action for action, _ in events[3:]) == ["api_key.create", "user.create"]
    await page.locator(".graphiql-response").get_by_text('"app.create"').wait_for()

    await page.screenshot(path=tmp_path / "graphiql.png")
    assert traffic.blocked == [], "the page tried to leave this machine"
    assert not any("unpkg.com" in url for url in traffic.local)
    refused = [text for text in traffic.console_errors if "Content Security Policy" in text]
    assert refused == [], "the page's own policy blocked part of it"

    # The first owner's link, printed beside the key, opens the console on the same app.
    link = re.search(r"^ {4}(http://\S+/console/welcome/sl_[0-9A-Za-z]+)$", dev_server.output, re.M)
    assert link is not None, f"no sign-in link printed:\n{dev_server.output}"
    await page.goto(link[1])
    await page.get_by_label("New password").fill("a long enough passphrase")
    await page.get_by_label("The same password again").fill("a long enough passphrase")
    await page.get_by_role("button", name="Save and sign in").click()
    await page.wait_for_url("**/console/apps")
    await page.get_by_role("link", name="Acme Notes").wait_for()
    assert traffic.blocked == [], "the console tried to leave this machine"

    # GraphiQL opened from the console acts as the owner: no key, even with none pasted.
    await page.get_by_role("link", name="GraphiQL").click()
    await page.locator(QUERY_EDITOR).wait_for(timeout=20_000)
    assert "acts as you" in await editor_text(page, QUERY_EDITOR)
    await page.get_by_role("button", name="Headers", exact=True).click()
    await type_into(page, HEADERS_EDITOR, "{}")
    listed = (await execute(page))["data"]["apps"]["edges"]
    assert [edge["node"]["slug"] for edge in listed] == ["acme-notes"]
    renamed = (await run(page, APP_RENAME % app["id"]))["data"]["appUpdate"]
    assert renamed == {"app": {"name": "Acme Notes 2"}, "userErrors": []}
    refused = [text for text in traffic.console_errors if "Content Security Policy" in text]
    assert refused == [], "the console's GraphiQL was blocked by a policy"


def test_second_start_prints_no_new_key(tmp_path: Path) -> None:
    database = tmp_path / "ferryman.sqlite3"
    first = DevServer.start(tmp_path, database, require_assets())
    assert first.stop() == [], "`ferryman dev` left processes running after SIGTERM"
    printed_key(first.output)
    second = DevServer.start(tmp_path, database, require_assets())
    assert second.stop() == [], "`ferryman dev` left processes running after SIGTERM"
    assert "uk_live_" not in second.output
    assert "/console/welcome/" not in second.output
    assert "GraphiQL: " in second.output


def test_dev_lets_its_console_upload_to_its_local_bucket(
    dev_server: DevServer, tmp_path: Path
) -> None:
    """`ferryman dev` gives its bucket the CORS rule an operator sets on R2 (README): the
    console's origin may PUT through a presigned URL, another origin may not."""
    endpoint = re.search(r"Local S3 \(SeaweedFS\) on (\S+),", dev_server.output)
    assert endpoint is not None, dev_server.output
    credentials = Credentials.load_or_create(tmp_path / "var" / "s3" / "credentials.json")
    client = boto3.client(
        "s3",
        endpoint_url=endpoint[1],
        region_name="auto",
        aws_access_key_id=credentials.access_key_id,
        aws_secret_access_key=credentials.secret_access_key,
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )
    [rule] = client.get_bucket_cors(Bucket="ferryman")["CORSRules"]
    localhost = dev_server.url.replace("127.0.0.1", "localhost")
    assert rule["AllowedOrigins"] == [dev_server.url, localhost]
    assert rule["AllowedMethods"] == ["PUT"]
    url = client.generate_presigned_url(
        "put_object", Params={"Bucket": "ferryman", "Key": "probe", "ContentLength": 1}
    )

    def preflight(origin: str) -> httpx.Response:
        asking = {"Origin": origin, "Access-Control-Request-Method": "PUT"}
        return httpx.options(url, headers=asking)

    allowed = preflight(dev_server.url)
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == dev_server.url
    assert preflight("https://elsewhere.example.com").status_code == 403


# --- the HTML and the asset route, in process ----------------------------------------------


async def test_without_assets_the_page_uses_the_cdn(client: httpx.AsyncClient) -> None:
    response = await client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    html = response.text
    assert len(CDN.findall(html)) == 7
    assert html.count('integrity="sha384-') == 7
    assert MOUNT not in html
    for _, _, path in CDN.findall(html):
        assert (await client.get(f"{MOUNT}/graphiql/{path}")).status_code == 404


@pytest.fixture
async def local_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(settings, graphiql_assets=require_assets()) as app, peer(app) as c:
        yield c


async def test_the_page_is_sent_with_a_strict_policy(client: httpx.AsyncClient) -> None:
    response = await client.get("/graphql", headers={"Accept": "text/html"})

    headers = response.headers
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    policy = dict(
        directive.strip().split(" ", 1)
        for directive in headers["content-security-policy"].split(";")
    )
    assert policy["default-src"] == "'none'"
    assert policy["frame-ancestors"] == "'none'"
    assert policy["connect-src"] == "'self'"
    assert "https://unpkg.com" in policy["script-src"]  # no local assets: the CDN page
    assert "'unsafe-inline'" not in policy["script-src"]
    inline = re.findall(r"<script>(.*?)</script>", response.text, re.DOTALL)
    assert len(inline) == 1
    digest = base64.b64encode(hashlib.sha256(inline[0].encode()).digest()).decode()
    assert f"'sha256-{digest}'" in policy["script-src"]


async def test_with_assets_the_policy_names_no_cdn(local_client: httpx.AsyncClient) -> None:
    response = await local_client.get("/graphql", headers={"Accept": "text/html"})

    assert "unpkg.com" not in response.headers["content-security-policy"]


async def test_with_assets_the_page_loads_them_from_this_server(
    local_client: httpx.AsyncClient,
) -> None:
    html = (await local_client.get("/graphql", headers={"Accept": "text/html"})).text
    assert "unpkg.com" not in html
    urls = re.findall(r'(?:src|href)="(/static/graphiql/[^"]+)"', html)
    assert len(urls) == 7
    assert html.count('integrity="sha384-') == 7  # the browser checks them too
    for url in urls:
        response = await local_client.get(url)
        assert response.status_code == 200, url
        assert response.content == (ASSETS / url.removeprefix(MOUNT + "/")).read_bytes()

    for other in (
        "graphiql/package.json",  # on disk, but not one of the page's files
        "react/umd/react.development.js",
        "graphiql/missing.js",
        "react/..%2F..%2F..%2Fpyproject.toml",
    ):
        assert (await local_client.get(f"{MOUNT}/{other}")).status_code == 404, other


def test_pinned_versions_are_the_ones_the_page_names() -> None:
    named = {package: version for package, version, _ in CDN.findall(get_graphql_ide_html())}
    manifest = json.loads((PINS / "package.json").read_text())
    lock = json.loads((PINS / "package-lock.json").read_text())
    assert manifest["dependencies"] == named, "update deploy/graphiql/ to Strawberry's page"
    assert lock["packages"][""]["dependencies"] == named
    for package, version in named.items():
        locked = lock["packages"][f"node_modules/{package}"]
        assert locked["version"] == version
        assert locked["integrity"].startswith("sha512-")
