"""``ferryman publish``: upload a Tauri bundle's updater artifacts to a Ferryman server.

For the files :mod:`ferryman.publisher.bundle` finds, it drives the GraphQL API (the
documents in ``schema/operations``, shipped as ``ferryman.operations``): a draft release,
a presigned upload per file, a confirmation per file, and optionally the publish, with a
progress bar and a summary. Nothing here touches the database.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import httpx
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TaskID, TextColumn
from rich.table import Column, Table
from rich.text import Text

from ferryman.publisher.bundle import (
    Artifact,
    PublishError,
    default_version,
    find_artifacts,
    parse_overrides,
    platform_key,
)
from ferryman.versions import InvalidVersion, Version

__all__ = [
    "PublishError",
    "default_version",
    "find_artifacts",
    "parse_overrides",
    "platform_key",
    "publish",
]

UPLOAD_ATTEMPTS = 4
CHUNK = 1024 * 1024
PARALLEL = 4


# --- talking to the server ---------------------------------------------------------------


def operation(name: str) -> str:
    """The GraphQL document ``name`` (``schema/operations/<name>.graphql``)."""
    return resources.files("ferryman.operations").joinpath(f"{name}.graphql").read_text()


class Api:
    """The few GraphQL calls ``publish`` makes; errors become one-line PublishErrors."""

    def __init__(self, server: str, api_key: str, http: httpx.Client) -> None:
        self.server = server.rstrip("/")
        self.api_key = api_key
        self.http = http

    def call(self, name: str, variables: Mapping[str, Any]) -> dict[str, Any]:
        url = f"{self.server}/graphql"
        try:
            response = self.http.post(
                url,
                json={
                    "query": operation(name),
                    "variables": dict(variables),
                    "operationName": name,
                },
                headers={"Authorization": f"Bearer {self.api_key}"},
            )
        except httpx.TransportError as error:
            raise PublishError(
                f"cannot reach {self.server}: {error or type(error).__name__}"
            ) from None
        try:
            body = response.json()
        except ValueError:
            raise PublishError(
                f"{url} answered HTTP {response.status_code} without a GraphQL result"
            ) from None
        errors = body.get("errors") if isinstance(body, dict) else None
        if errors:
            first = errors[0]
            code = (first.get("extensions") or {}).get("code")
            message = first.get("message", "unknown error")
            raise PublishError(f"{message} ({code})" if code else message)
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict):
            raise PublishError(f"{url} answered HTTP {response.status_code} without data")
        return data

    def mutate(self, name: str, variables: Mapping[str, Any]) -> dict[str, Any]:
        """The payload of a one-field mutation; its userErrors raise PublishError."""
        payload: dict[str, Any] = next(iter(self.call(name, variables).values()))
        if payload.get("userErrors"):
            raise PublishError(_user_errors(payload))
        return payload


def _user_errors(payload: Mapping[str, Any]) -> str:
    return "; ".join(e["message"] for e in payload["userErrors"])


# --- the run -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Request:
    server: str
    api_key: str
    app: str
    version: str
    artifacts: list[Artifact]
    notes: str | None = None
    publish: bool = False


@dataclass(slots=True)
class Outcome:
    artifact: Artifact
    status: str = "PENDING"
    reason: str = ""
    warning: str = ""
    signed_version: str | None = None


@dataclass(slots=True)
class Result:
    outcomes: list[Outcome] = field(default_factory=list)
    published: bool = False
    not_published: str = ""  # why a --publish did not publish, when it did not

    @property
    def ok(self) -> bool:
        return all(o.status == "READY" for o in self.outcomes)


def checked_version(text: str) -> str:
    """The version as the updater reads it; one the client cannot parse is refused here,
    before anything is uploaded."""
    try:
        return str(Version.parse(text))
    except InvalidVersion as error:
        raise PublishError(f"version: {error}") from None


def dry_run(request: Request, console: Console) -> None:
    """Print what ``publish`` would do, without contacting the server."""
    console.print(
        f"dry run: would upload to {request.server} as {request.app} {request.version}"
        + (" and publish" if request.publish else " (draft)")
    )
    table = _table("file", "platform", "size", "folder")
    for artifact in request.artifacts:
        table.add_row(
            Text(artifact.path.name),
            artifact.platform,
            f"{artifact.size:,}",
            Text(str(artifact.path.parent)),
        )
    console.print(table)


def publish(
    request: Request,
    console: Console,
    progress_console: Console,
    *,
    http: httpx.Client | None = None,
    backoff: float = 1.0,
) -> Result:
    """Upload every artifact to a draft of ``request.version``; publish when asked and all READY."""
    owned = http is None
    client = http or httpx.Client(timeout=httpx.Timeout(60.0, connect=10.0))
    try:
        api = Api(request.server, request.api_key, client)
        release_id = _draft(api, request)
        result = Result([Outcome(a) for a in request.artifacts])
        with (
            Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TextColumn("{task.fields[state]}"),
                console=progress_console,
            ) as progress,
            ThreadPoolExecutor(PARALLEL) as pool,
        ):
            tasks = [
                progress.add_task(escape(o.artifact.path.name), total=o.artifact.size, state="")
                for o in result.outcomes
            ]
            jobs = [
                pool.submit(_upload, api, release_id, outcome, progress, task, backoff)
                for outcome, task in zip(result.outcomes, tasks, strict=True)
            ]
            for job in jobs:
                job.result()
        if request.publish and result.ok:
            try:
                api.mutate("ReleasePublish", {"id": release_id})
            except PublishError as error:
                # Worded as the CI REST route words it: the uploads stand, as a draft.
                result.not_published = f"not published, kept as a draft: {error}"
            else:
                result.published = True
        _summary(request, result, console)
        return result
    finally:
        if owned:
            client.close()


def _draft(api: Api, request: Request) -> str:
    """The id of the draft for the version: found, or created (racing jobs share one)."""
    app = api.call("AppBySlug", {"slug": request.app})["app"]
    if app is None:
        raise PublishError(f"no app {request.app!r} on {api.server} (or the key may not see it)")
    release = _release(api, request)
    if release is None:
        created = api.call(
            "ReleaseCreate",
            {"appId": app["id"], "input": {"version": request.version, "notes": request.notes}},
        )["releaseCreate"]
        if not created["userErrors"]:
            new_id: str = created["release"]["id"]
            return new_id
        if not any(e["code"] == "TAKEN" for e in created["userErrors"]):
            raise PublishError(_user_errors(created))
        release = _release(api, request)  # another job created it a moment ago
        if release is None:
            raise PublishError(_user_errors(created))
    if release["status"] != "DRAFT":
        raise PublishError(
            f"{request.app} {request.version} is already {release['status'].lower()}: "
            "publish a new version"
        )
    if request.notes is not None:
        api.mutate("ReleaseUpdate", {"id": release["id"], "input": {"notes": request.notes}})
    found: str = release["id"]
    return found


def _release(api: Api, request: Request) -> dict[str, Any] | None:
    app = api.call("ReleaseByVersion", {"slug": request.app, "version": request.version})["app"]
    return None if app is None else app["release"]


def _upload(
    api: Api, release_id: str, outcome: Outcome, progress: Progress, task: TaskID, backoff: float
) -> None:
    artifact = outcome.artifact
    try:
        progress.update(task, state="starting")
        created = api.call(
            "ArtifactUploadCreate",
            {
                "releaseId": release_id,
                "input": {
                    "platform": artifact.platform,
                    "filename": artifact.path.name,
                    "signature": artifact.signature,
                    "fileSize": artifact.size,
                },
            },
        )["artifactUploadCreate"]
        if created["userErrors"]:
            raise PublishError(_user_errors(created))
        headers = {h["name"]: h["value"] for h in created["uploadHeaders"]}
        progress.update(task, state="uploading")
        _put(api.http, created["uploadUrl"], headers, artifact, progress, task, backoff)
        progress.update(task, state="confirming")
        confirmed = api.call("ArtifactUploadConfirm", {"id": created["artifact"]["id"]})[
            "artifactUploadConfirm"
        ]
        if confirmed["userErrors"]:
            raise PublishError(_user_errors(confirmed))
        outcome.status = confirmed["artifact"]["status"]
        outcome.reason = confirmed["artifact"]["failureReason"] or ""
        outcome.warning = confirmed["artifact"]["warning"] or ""
        outcome.signed_version = confirmed["artifact"]["signedVersion"]
    except (PublishError, OSError) as error:
        outcome.status, outcome.reason = "FAILED", str(error)
    progress.update(task, state=outcome.status)


def _put(
    http: httpx.Client,
    url: str,
    headers: Mapping[str, str],
    artifact: Artifact,
    progress: Progress,
    task: TaskID,
    backoff: float,
) -> None:
    """PUT the file to its presigned URL, streamed, retrying network errors and 5xx."""
    size = artifact.size

    def chunks() -> Iterator[bytes]:
        progress.update(task, completed=0)
        with artifact.path.open("rb") as file:
            while block := file.read(CHUNK):
                yield block
                progress.advance(task, len(block))

    problem = ""
    for attempt in range(UPLOAD_ATTEMPTS):
        if attempt:
            time.sleep(backoff * 2 ** (attempt - 1))
        try:
            response = http.put(
                url, content=chunks(), headers={**headers, "Content-Length": str(size)}
            )
        except httpx.TransportError as error:
            problem = f"upload failed: {error or type(error).__name__}"
            continue
        if response.status_code < 300:
            return
        problem = f"upload refused: HTTP {response.status_code} {response.text[:200]}".strip()
        if response.status_code < 500 and response.status_code not in (408, 429):
            break
    raise PublishError(problem)


def make_console(stderr: bool = False) -> Console:
    """A console; 160 columns wide when not a terminal, so that CI logs keep names whole."""
    probe = Console(stderr=stderr)
    return probe if probe.is_terminal else Console(stderr=stderr, width=160)


def _table(*headers: str) -> Table:
    """A table whose cells wrap instead of being cut short (CI logs are narrow)."""
    return Table(*(Column(h, overflow="fold") for h in headers))


def _summary(request: Request, result: Result, console: Console) -> None:
    table = _table("file", "platform", "size", "status", "signed version", "detail")
    for outcome in result.outcomes:
        status = outcome.status
        style = "green" if status == "READY" else "red"
        signed = outcome.signed_version
        table.add_row(
            Text(outcome.artifact.path.name),
            Text(outcome.artifact.platform),
            f"{outcome.artifact.size:,}",
            f"[{style}]{status}[/{style}]",
            Text(signed) if signed else Text("none", style="yellow"),
            Text(outcome.reason or outcome.warning),
        )
    console.print(table)
    if any(o.status == "READY" and o.signed_version is None for o in result.outcomes):
        console.print(
            "[yellow]warning:[/yellow] a signature names no version: apps that set "
            "requireSignedVersion refuse it; sign with --app-version (Tauri CLI 2.11.5 or newer)"
        )
    if result.published:
        console.print(f"published {request.app} {request.version}")
    elif result.ok:
        console.print(f"{request.app} {request.version} is a draft with every artifact READY")
