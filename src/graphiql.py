"""GraphiQL, served from this server when its assets were installed, else from the CDN.

Self-hosted servers often sit behind firewalls, where the CDN page would hang on
"Loading...". The run command (and the Docker image) installs the exact npm packages
the page names; every file is checked against the page's own ``integrity`` hash
before it is served, and any miss falls back to the CDN page as a whole.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import logging
import re
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response

log = logging.getLogger("ferryman.graphiql")

MOUNT = "/static/graphiql"
CDN = "https://unpkg.com"
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)
_ASSET = re.compile(
    r'(?:src|href)="https://unpkg\.com/(?P<package>(?:@[^/"]+/)?[^@/"]+)@[^/"]+/(?P<path>[^"]+)"'
    r'\s+integrity="(?P<integrity>sha384-[^"]+)"'
)


# What the page opens on: a Ferryman query, and the header every request needs.
TITLE = "Ferryman GraphQL"
EXAMPLE_QUERY = """# Ferryman's GraphQL API (Docs lists it all).
#
# Every request needs an API key: in Headers
# below, put the key "ferryman dev" printed on
# its first start (or "ferryman keys create")
# in place of uk_live_..., then press Ctrl-Enter.

query {
  apps(first: 10) {
    totalCount
    edges {
      node { id slug name latestVersion }
    }
  }
}
"""
HEADERS_TEMPLATE = '{\\n  "Authorization": "Bearer uk_live_..."\\n}'
# Opened from the console, the page runs as the signed-in person: no key to paste.
CONSOLE_QUERY = """# Ferryman's GraphQL API (Docs lists it all).
#
# Opened from the console, it acts as you, with
# your role: press Ctrl-Enter. Scripts and CI
# use an API key at /graphql instead.

query {
  apps(first: 10) {
    totalCount
    edges {
      node { id slug name latestVersion }
    }
  }
}
"""


@dataclasses.dataclass(frozen=True, slots=True)
class Greeting:
    """What the page opens on: the example query, and the headers editor's first text."""

    query: str
    headers: str


FOR_KEYS = Greeting(EXAMPLE_QUERY, HEADERS_TEMPLATE)
FOR_CONSOLE = Greeting(CONSOLE_QUERY, "")


class GraphiQLPage:
    """The GraphiQL HTML, and the local files it may load."""

    def __init__(self, assets: Path, stock_html: str, greeting: Greeting = FOR_KEYS) -> None:
        """``stock_html``: Strawberry's GraphiQL page, which loads from the CDN."""
        cdn_html = _ferryman(stock_html, greeting)
        self.files = _verified_files(cdn_html, assets)
        self.local = self.files is not None
        self.html = cdn_html if self.files is None else _localised(cdn_html)
        self.headers = _security_headers(self.html, self.local)

    async def asset(self, request: Request) -> Response:
        path = request.path_params["path"]
        file = (self.files or {}).get(path)
        if file is None:
            return PlainTextResponse("not found", status_code=404)
        return FileResponse(file, headers={"Cache-Control": "public, max-age=86400"})


def _verified_files(html: str, assets: Path) -> dict[str, Path] | None:
    files: dict[str, Path] = {}
    for match in _ASSET.finditer(html):
        relative = f"{match['package']}/{match['path']}"
        file = assets / relative
        if not file.is_file():
            log.info("GraphiQL assets not installed (%s missing); using the CDN", relative)
            return None
        digest = base64.b64encode(hashlib.sha384(file.read_bytes()).digest()).decode()
        if f"sha384-{digest}" != match["integrity"]:
            log.warning("GraphiQL asset %s does not match the page's hash; using the CDN", file)
            return None
        files[relative] = file
    return files or None


def _security_headers(html: str, local: bool) -> dict[str, str]:
    """Headers for the page: it may run only its own inline script and the files it names,
    talk only to this server, and never be framed (an admin's key is typed into it)."""
    inline = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()}'"
        for script in _INLINE_SCRIPT.findall(html)
    )
    origin = "'self'" if local else f"'self' {CDN}"
    policy = "; ".join(
        (
            "default-src 'none'",
            f"script-src {origin} {inline}",
            f"style-src {origin} 'unsafe-inline'",
            f"font-src {origin} data:",
            "img-src 'self' data:",
            "connect-src 'self'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "form-action 'none'",
        )
    )
    return {
        "Content-Security-Policy": policy,
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cross-Origin-Opener-Policy": "same-origin",
    }


def _localised(html: str) -> str:
    return re.sub(r"https://unpkg\.com/((?:@[^/\"]+/)?[^@/\"]+)@[^/\"]+/", MOUNT + r"/\1/", html)


def _ferryman(html: str, greeting: Greeting) -> str:
    """Strawberry's page with Ferryman's title, example query and headers template; a part
    whose spot the page no longer has is left as Strawberry wrote it."""
    changes = (
        (r"<title>[^<]*</title>", f"<title>{TITLE}</title>"),
        (r"const EXAMPLE_QUERY = `[^`]*`;", f"const EXAMPLE_QUERY = `{greeting.query}`;"),
        (
            r"React\.useState\(parameters\.headers\)",
            f"React.useState(parameters.headers || '{greeting.headers}')",
        ),
    )
    for pattern, replacement in changes:
        html, found = re.subn(pattern, replacement.replace("\\", "\\\\"), html, count=1)
        if not found:
            log.warning("GraphiQL page changed: %s not found; kept Strawberry's", pattern)
    return html
