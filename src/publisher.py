"""``ferryman publish``: upload a Tauri bundle's updater artifacts to a Ferryman server.

Finds the signed updater files, names the platform of each, and drives the GraphQL API
(the documents in ``schema/operations``, shipped as ``ferryman.operations``): a draft
release, a presigned upload per file, a confirmation per file, and optionally the publish.
Nothing here touches the database.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TaskID, TextColumn
from rich.table import Column, Table
from rich.text import Text

UPLOAD_ATTEMPTS = 4
CHUNK = 1024 * 1024
PARALLEL = 4


class PublishError(Exception):
    """A failure to report in one line; the command exits with 1."""


# --- finding artifacts -------------------------------------------------------------------

# (suffix of the file name, OS, installer suffix of the platform key or None), longest first.
_KINDS: tuple[tuple[str, str, str | None], ...] = (
    (".app.tar.gz", "darwin", None),
    (".AppImage", "linux", None),
    (".deb", "linux", "deb"),
    (".rpm", "linux", "rpm"),
    ("-setup.nsis.zip", "windows", None),
    ("-setup.exe", "windows", None),
    (".msi.zip", "windows", "msi"),
    (".msi", "windows", "msi"),
)

# Architecture spellings in bundle names, checked in this order. A spelling counts only as
# a whole token: not glued to letters or digits (``x86`` is not the start of ``x86_64``).
_ARCHES: tuple[tuple[str, str], ...] = (
    ("x86_64", "x86_64"),
    ("amd64", "x86_64"),
    ("x64", "x86_64"),
    ("aarch64", "aarch64"),
    ("arm64", "aarch64"),
    ("i686", "i686"),
    ("i386", "i686"),
    ("x86", "i686"),
    ("armv7", "armv7"),
    ("armhf", "armv7"),
    ("riscv64", "riscv64"),
)


def artifact_kind(name: str) -> tuple[str, str | None] | None:
    """(OS, installer suffix) for an updater file name, or None when it is not one."""
    for suffix, os_name, installer in _KINDS:
        if name.endswith(suffix) and len(name) > len(suffix):
            return os_name, installer
    return None


def arch_of(name: str) -> str | None:
    """The Tauri arch named in a file name (``_amd64``, ``x86_64``, ``arm64``...), if any."""
    for spelling, arch in _ARCHES:
        if re.search(rf"(?<![A-Za-z0-9]){spelling}(?![A-Za-z0-9]|_64)", name, re.IGNORECASE):
            return arch
    return None


def platform_key(name: str) -> str:
    """The platform key for an updater file, from its name; PublishError when unclear."""
    kind = artifact_kind(name)
    if kind is None:
        raise PublishError(f"{name} is not a Tauri updater artifact")
    os_name, installer = kind
    arch = arch_of(name)
    if arch is None:
        raise PublishError(
            f"cannot tell the architecture of {name}: pass --platform {name}={os_name}-ARCH "
            "(for example darwin-aarch64)"
        )
    return f"{os_name}-{arch}" + (f"-{installer}" if installer else "")


@dataclass(frozen=True, slots=True)
class Artifact:
    path: Path
    platform: str
    signature: str

    @property
    def size(self) -> int:
        return self.path.stat().st_size


def parse_overrides(values: Sequence[str]) -> dict[str, str]:
    """``FILE=KEY`` pairs from ``--platform``; FILE is a file name or a path."""
    overrides: dict[str, str] = {}
    for value in values:
        file, sep, key = value.partition("=")
        if not sep or not file or not key:
            raise PublishError(f"--platform expects FILE=KEY, got {value!r}")
        overrides[file] = key
    return overrides


def find_artifacts(paths: Sequence[Path], overrides: Mapping[str, str]) -> list[Artifact]:
    """The updater files in ``paths`` (files or bundle directories), each with its ``.sig``.

    A file named explicitly must be an updater artifact with a ``.sig`` beside it. In a
    directory, files without a ``.sig`` are not updater artifacts and are passed over, and a
    v1 ``.nsis.zip``/``.msi.zip`` is passed over when its installer is there too.
    """
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(_scan(path))
        elif path.is_file():
            if artifact_kind(path.name) is None and not _overridden(path, overrides):
                raise PublishError(f"{path} is not a Tauri updater artifact")
            if not _sig(path).is_file():
                raise PublishError(f"{path} has no signature: {_sig(path).name} is missing")
            files.append(path)
        else:
            raise PublishError(f"{path} does not exist")
    if not files:
        raise PublishError(
            "no updater artifacts found (is bundle.createUpdaterArtifacts set in tauri.conf.json?)"
        )
    artifacts: list[Artifact] = []
    seen: dict[str, Path] = {}
    for path in dict.fromkeys(files):
        key = _overridden(path, overrides) or platform_key(path.name)
        if key in seen:
            raise PublishError(
                f"{seen[key]} and {path} both map to {key}: pass --platform FILE=KEY for one"
            )
        seen[key] = path
        artifacts.append(Artifact(path, key, _sig(path).read_text().strip()))
    return artifacts


def _scan(directory: Path) -> Iterator[Path]:
    found = sorted(
        p
        for p in directory.rglob("*")
        if p.is_file() and artifact_kind(p.name) and _sig(p).is_file()
    )
    names = {p.name for p in found}
    for path in found:
        if path.name.endswith(".nsis.zip") and path.name[: -len(".nsis.zip")] + ".exe" in names:
            continue
        if path.name.endswith(".msi.zip") and path.name[: -len(".zip")] in names:
            continue
        yield path


def _sig(path: Path) -> Path:
    return path.with_name(path.name + ".sig")


def _overridden(path: Path, overrides: Mapping[str, str]) -> str | None:
    for file, key in overrides.items():
        if file in (path.name, str(path)) or Path(file).resolve() == path.resolve():
            return key
    return None


# --- the version ---------------------------------------------------------------------------


def default_version(start: Path) -> str:
    """The version in the nearest tauri.conf.json, else Cargo.toml, else the git tag."""
    for directory in (start, *start.parents):
        for base in (directory, directory / "src-tauri"):
            version = _tauri_conf_version(base / "tauri.conf.json")
            if version:
                return version
    for directory in (start, *start.parents):
        for base in (directory, directory / "src-tauri"):
            version = _cargo_version(base / "Cargo.toml")
            if version:
                return version
    try:
        tag = subprocess.run(
            ["git", "describe", "--tags", "--exact-match"],
            cwd=start,
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        tag = ""
    if tag:
        return tag.removeprefix("v")
    raise PublishError(
        "no version: pass --version, or run where tauri.conf.json or Cargo.toml has one, "
        "or on a commit tagged v*"
    )


def _tauri_conf_version(path: Path) -> str | None:
    if not path.is_file():
        return None
    try:
        version = json.loads(path.read_text()).get("version")
    except (ValueError, AttributeError) as error:
        raise PublishError(f"cannot read {path}: {error}") from None
    if isinstance(version, str) and version.endswith(".json"):
        # Tauri v2 may point at a package.json whose version it uses.
        return _tauri_conf_version(path.parent / version)
    return version if isinstance(version, str) and version else None


def _cargo_version(path: Path) -> str | None:
    if not path.is_file():
        return None
    try:
        version = tomllib.loads(path.read_text()).get("package", {}).get("version")
    except tomllib.TOMLDecodeError as error:
        raise PublishError(f"cannot read {path}: {error}") from None
    return version if isinstance(version, str) else None  # not {workspace = true}


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


@dataclass(slots=True)
class Result:
    outcomes: list[Outcome] = field(default_factory=list)
    published: bool = False

    @property
    def ok(self) -> bool:
        return all(o.status == "READY" for o in self.outcomes)


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
            api.mutate("ReleasePublish", {"id": release_id})
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
    table = _table("file", "platform", "size", "status", "detail")
    for outcome in result.outcomes:
        status = outcome.status
        style = "green" if status == "READY" else "red"
        table.add_row(
            Text(outcome.artifact.path.name),
            Text(outcome.artifact.platform),
            f"{outcome.artifact.size:,}",
            f"[{style}]{status}[/{style}]",
            Text(outcome.reason or outcome.warning),
        )
    console.print(table)
    if result.published:
        console.print(f"published {request.app} {request.version}")
    elif result.ok:
        console.print(f"{request.app} {request.version} is a draft with every artifact READY")
