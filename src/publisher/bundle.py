"""What ``ferryman publish`` uploads: a Tauri bundle's signed updater files, the platform
key of each, and the version they were built as."""

from __future__ import annotations

import json
import re
import subprocess
import tomllib
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

SIG = ".sig"


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


@dataclass(frozen=True, slots=True)
class Detected:
    """What a file's name says: its platform key, or why it says none (with the OS when
    the name tells that much). Each caller adds how its user picks a platform instead."""

    platform: str | None
    problem: str | None = None
    os_name: str | None = None


def detect(name: str) -> Detected:
    """The platform key an updater file's name gives, as ``ferryman publish`` reads it."""
    kind = artifact_kind(name)
    if kind is None:
        return Detected(None, f"{name} is not a Tauri updater artifact")
    os_name, installer = kind
    arch = arch_of(name)
    if arch is None:
        return Detected(None, f"cannot tell the architecture of {name}", os_name)
    return Detected(f"{os_name}-{arch}" + (f"-{installer}" if installer else ""), None, os_name)


def platform_key(name: str) -> str:
    """The platform key for an updater file, from its name; PublishError when unclear."""
    detected = detect(name)
    if detected.platform is not None:
        return detected.platform
    if detected.os_name is None:
        raise PublishError(str(detected.problem))
    raise PublishError(
        f"{detected.problem}: pass --platform {name}={detected.os_name}-ARCH "
        "(for example darwin-aarch64)"
    )


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
                raise PublishError(_unsigned(str(path)))
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
            raise PublishError(f"{_clash(seen[key], path, key)}: pass --platform FILE=KEY for one")
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
        if _superseded(path.name, names) is None:
            yield path


def _superseded(name: str, names: Collection[str]) -> str | None:
    """The installer a Tauri v1 ``.nsis.zip`` or ``.msi.zip`` wraps, when it is among
    ``names`` too: the zip is then passed over for it."""
    if name.endswith(".nsis.zip") and (exe := name[: -len(".nsis.zip")] + ".exe") in names:
        return exe
    if name.endswith(".msi.zip") and (msi := name[: -len(".zip")]) in names:
        return msi
    return None


def _sig(path: Path) -> Path:
    return path.with_name(path.name + SIG)


def _unsigned(file: str) -> str:
    return f"{file} has no signature: {Path(file).name}{SIG} is missing"


def _clash(first: object, second: object, key: str) -> str:
    return f"{first} and {second} both map to {key}"


def _overridden(path: Path, overrides: Mapping[str, str]) -> str | None:
    for file, key in overrides.items():
        if file in (path.name, str(path)) or Path(file).resolve() == path.resolve():
            return key
    return None


# --- pairing names (the console's uploads) ------------------------------------------------


@dataclass(frozen=True, slots=True)
class Paired:
    """One file of a set chosen together: the name of its ``.sig`` among them (None: not
    there), its platform key (None: its name tells none and none was chosen), and what
    stands in the way of uploading it."""

    name: str
    signature: str | None
    platform: str | None
    problems: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Pairing:
    """The files of a set with their pairs; ``left_over`` says why the other names are
    not uploaded (a ``.sig`` without its file, a v1 zip beside its installer)."""

    files: tuple[Paired, ...]
    left_over: tuple[str, ...]

    @property
    def ready(self) -> bool:
        """Every file has a platform key of its own (a missing signature may be pasted)."""
        platforms = [f.platform for f in self.files]
        return bool(platforms) and None not in platforms and len(set(platforms)) == len(platforms)


def pair(names: Sequence[str], overrides: Mapping[str, str]) -> Pairing:
    """Pair files with their signatures by name (``X`` with ``X.sig``) and give each the
    platform key its name tells (or ``overrides[X]``), by the rules ``find_artifacts``
    applies to a bundle folder."""
    present = set(names)
    left_over = [
        f"{name} has no file: {name.removesuffix(SIG)} is not among the files"
        for name in dict.fromkeys(names)
        if name.endswith(SIG) and name.removesuffix(SIG) not in present
    ]
    files: list[str] = []
    for name in dict.fromkeys(n for n in names if not n.endswith(SIG)):
        installer = _superseded(name, present)
        if installer is None:
            files.append(name)
        else:
            left_over.append(f"{name} is passed over: {installer} is the same update")
    detected = {name: detect(name) for name in files}
    platforms = {name: overrides.get(name) or detected[name].platform for name in files}
    first: dict[str, str] = {}
    clashes: dict[str, str] = {}
    for name, key in platforms.items():
        if key is None:
            continue
        if key in first:
            clashes[name] = clashes[first[key]] = _clash(first[key], name, key)
        else:
            first[key] = name
    paired = []
    for name in files:
        signature = name + SIG if name + SIG in present else None
        problems = [] if signature else [_unsigned(name)]
        if platforms[name] is None:
            problems.append(str(detected[name].problem))
        if name in clashes:
            problems.append(clashes[name])
        paired.append(Paired(name, signature, platforms[name], tuple(problems)))
    return Pairing(tuple(paired), tuple(left_over))


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
