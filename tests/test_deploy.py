"""The deployment files stay in step with the settings they document."""

from __future__ import annotations

import configparser
import dataclasses
import importlib.metadata
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import click
import pytest
import yaml

from ferryman.app import create_app
from ferryman.cli import cli
from ferryman.models.platform import validate_platform
from ferryman.settings import PREFIX, Settings

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
SETTINGS = {PREFIX + field.name.upper() for field in dataclasses.fields(Settings)}


def test_env_example_documents_every_setting() -> None:
    lines = (DEPLOY / "env.example").read_text().splitlines()
    listed = {}
    for number, line in enumerate(lines):
        match = re.fullmatch(r"#?(FERRYMAN_[A-Z0-9_]+)=.*", line)
        if match:
            listed[match[1]] = number
    assert set(listed) == SETTINGS, "deploy/env.example must list exactly the settings"
    for name, number in listed.items():
        above = number - 1
        while above > 0 and lines[above].startswith("#FERRYMAN_"):  # a group shares a comment
            above -= 1
        assert lines[above].startswith("# "), f"{name} needs a comment above it"


def test_dockerfile_sets_only_real_settings() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assigned = set(re.findall(r"\b(FERRYMAN_[A-Z0-9_]+)=", dockerfile))
    assert assigned, "the image sets FERRYMAN_HOST and friends"
    assert assigned <= SETTINGS, assigned - SETTINGS


WORKFLOWS = ROOT / "deploy" / "github-actions"


@pytest.mark.parametrize("name", ["release.yml", "release-r2-curl.yml"])
def test_workflow_templates_are_valid_and_call_what_exists(name: str) -> None:
    workflow = yaml.safe_load((WORKFLOWS / name).read_text())
    jobs = workflow["jobs"]
    assert set(jobs) == {"build", "publish"}
    assert jobs["publish"]["needs"] == "build"
    assert workflow[True]["push"]["tags"] == ["v*"]  # YAML 1.1 reads the key `on` as True
    platforms = [entry["platform"] for entry in jobs["build"]["strategy"]["matrix"]["include"]]
    assert sorted(platforms) == [
        "darwin-aarch64",
        "darwin-x86_64",
        "linux-x86_64",
        "windows-x86_64",
    ]
    for platform in platforms:
        assert validate_platform(platform) == platform
    scripts = "\n".join(step.get("run", "") for job in jobs.values() for step in job["steps"])
    assert "/ci/apps/$" in scripts  # the REST door, whose route exists:
    assert any(
        getattr(route, "path", "") == "/ci/apps/{app_slug}/releases"
        for route in create_app(Settings(s3_endpoint="http://127.0.0.1:9")).routes
    )
    if name == "release.yml":
        assert "ferryman publish" in scripts
        assert "publish" in cli.commands
        assert "R2_" not in (WORKFLOWS / name).read_text()  # no bucket credentials needed


# --- the commands and settings that the deployment files and their guide name ---------

# Environment variables that `ferryman publish` reads, which are not server settings.
CLIENT_VARIABLES = {
    param.envvar
    for command in cli.commands.values()
    for param in command.params
    if isinstance(param.envvar, str)
}
NAMES = re.compile(r"\bFERRYMAN_[A-Z0-9_]*[A-Z0-9]\b")
# `ferryman` where a command starts (not `/opt/ferryman/`, `ferryman.env` or `my-ferryman`),
# followed by the word that must be one of its subcommands.
INVOCATION = re.compile(r"(?<![\w.-])ferryman(?=[ \t]+([a-z][a-z0-9-]*)(?![\w/.:=-]))")
TOKEN = re.compile(r"\"[^\"]*\"|'[^']*'|[^\s\"'|;&)#`]+|[\"'|;&)#`]")


def invocations(text: str) -> list[list[str]]:
    """Every `ferryman ...` command line in ``text``, as its words after `ferryman`."""
    text = re.sub(r"\\\n\s*", " ", text)  # shell line continuations
    found = []
    for match in INVOCATION.finditer(text):
        if match[1] == "ferryman":  # an image or user name, then the command itself
            continue
        line = text[match.end() :].split("\n", 1)[0]
        words = []
        for token in TOKEN.findall(line):
            if token in {'"', "'", "|", ";", "&", ")", "#", "`"}:
                break  # the end of this command
            words.append(token.strip("\"'"))
        found.append(words)
    return found


def resolve(words: list[str]) -> str:
    """The command path that ``words`` name (e.g. "keys create"), checking every option."""
    command: click.Command = cli
    path: list[str] = []
    takes_value = False
    for word in words:
        if takes_value:
            takes_value = False
            continue
        if word.startswith("-"):
            option = word.split("=", 1)[0]
            params = {name: p for p in command.params for name in p.opts + p.secondary_opts}
            assert option in params or option in {"-h", "--help"}, (
                f"`ferryman {' '.join(path)}` has no option {option}"
            )
            param = params.get(option)
            takes_value = isinstance(param, click.Option) and not param.is_flag and "=" not in word
        elif isinstance(command, click.Group):
            assert word in command.commands, f"`ferryman {' '.join(path)}` has no command {word!r}"
            command = command.commands[word]
            path.append(word)
    assert path, f"`ferryman {' '.join(words)}` names no command"
    return " ".join(path)


def markdown_code(text: str) -> str:
    """The fenced blocks and inline code spans of a Markdown text, one per line."""
    fence = r"^[ \t]*```[^\n]*\n(.*?)^[ \t]*```"  # also indented, in a list item
    blocks = re.findall(fence, text, flags=re.M | re.S)
    prose = re.sub(fence, "", text, flags=re.M | re.S)
    assert prose.count("`") % 2 == 0, "an unclosed code span or fence"
    spans = [" ".join(span.split()) for span in re.findall(r"`([^`]+)`", prose)]
    return "\n".join(blocks + spans)


def test_invocations_find_commands_and_only_commands() -> None:
    text = (
        "docker run --env-file ferryman.env ferryman ferryman keys create --scope ci \\\n"
        "  --app my-app --name x  # comment\n"
        'fly ssh console -C "ferryman migrate"\n'
        "useradd --system ferryman\ninstall -g ferryman deploy/x /opt/ferryman/bin/x\n"
        "/opt/ferryman/bin/ferryman serve\n"
    )
    found = invocations(text)
    assert found == [
        ["keys", "create", "--scope", "ci", "--app", "my-app", "--name", "x"],
        ["migrate"],
        ["serve"],
    ]
    assert [resolve(words) for words in found] == ["keys create", "migrate", "serve"]
    with pytest.raises(AssertionError, match="no command 'upgrade'"):
        resolve(["upgrade"])
    with pytest.raises(AssertionError, match="no option --force"):
        resolve(["keys", "revoke", "--force", "key_1"])
    with pytest.raises(AssertionError, match="no command 'rotate'"):
        resolve(["keys", "rotate"])


def test_deploy_guide_names_only_real_commands_and_settings() -> None:
    guide = (DEPLOY / "README.md").read_text()
    names = set(NAMES.findall(guide))
    assert names - SETTINGS <= CLIENT_VARIABLES, names - SETTINGS - CLIENT_VARIABLES
    for needed in ("PRODUCTION", "PUBLIC_URL", "DATABASE_URL", "TRUSTED_PROXIES", "METRICS_TOKEN"):
        assert PREFIX + needed in names, f"the guide should explain FERRYMAN_{needed}"
    commands = {resolve(words) for words in invocations(markdown_code(guide))}
    assert {"migrate", "serve", "keys create", "keys list", "keys revoke"} <= commands
    assert "ferryman serve --workers" in guide  # (the option is checked by resolve above)


def test_deploy_guide_tables_show_the_real_defaults() -> None:
    defaults = {PREFIX + f.name.upper(): f.default for f in dataclasses.fields(Settings)}
    rows = re.findall(
        r"^\| `(FERRYMAN_[A-Z0-9_]+)` \| `([^`]*)` \|", (DEPLOY / "README.md").read_text(), re.M
    )
    assert len(rows) >= 5
    for name, shown in rows:
        assert shown == str(defaults[name]), (
            f"{name}: the guide says {shown}, the code {defaults[name]}"
        )


def anchors(markdown: str) -> set[str]:
    """The ids GitHub gives the headings of a Markdown text."""
    headings = re.findall(r"^#+ (.+)$", markdown, flags=re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def test_deploy_guide_links_resolve() -> None:
    guide = (DEPLOY / "README.md").read_text()
    links = re.findall(r"\]\(([^)\s]+)\)", guide)
    local = [link for link in links if "://" not in link]
    assert "cloudflare/README.md" in local
    assert any(link.startswith("#") for link in local)
    for link in local:
        target, _, anchor = link.partition("#")
        path = DEPLOY / target if target else DEPLOY / "README.md"
        assert path.exists(), f"deploy/README.md links to {target}, which is missing"
        if anchor:
            assert anchor in anchors(path.read_text()), f"{link}: no such heading"


# --- fly.toml -------------------------------------------------------------------------

FLY = DEPLOY / "fly.toml"
SECRETS = {
    PREFIX + name
    for name in (
        "DATABASE_URL",
        "S3_ACCESS_KEY_ID",
        "S3_SECRET_ACCESS_KEY",
        "CLOUDFLARE_API_TOKEN",
        "METRICS_TOKEN",
        "SMTP_PASSWORD",
    )
}


def dockerfile_env(name: str) -> str:
    match = re.search(rf"\b{name}=(\S+)", (DEPLOY / "Dockerfile").read_text())
    assert match, f"the Dockerfile sets no {name}"
    return match[1]


def test_fly_config_builds_the_image_and_migrates_before_release() -> None:
    fly = tomllib.loads(FLY.read_text())
    dockerfile = FLY.parent / fly["build"]["dockerfile"]  # flyctl: relative to fly.toml
    assert dockerfile.resolve() == (DEPLOY / "Dockerfile").resolve()
    assert fly["deploy"]["release_command"] == "ferryman migrate"
    assert resolve(fly["deploy"]["release_command"].split()[1:]) == "migrate"
    service = fly["http_service"]
    assert service["internal_port"] == int(dockerfile_env("FERRYMAN_PORT"))
    assert f"EXPOSE {service['internal_port']}" in (DEPLOY / "Dockerfile").read_text()
    assert service["force_https"] is True
    paths = [check["path"] for check in service["checks"]]
    assert paths == ["/readyz"]
    app = create_app(Settings(s3_endpoint="http://127.0.0.1:9"))
    assert "/readyz" in {getattr(route, "path", None) for route in app.routes}


def test_fly_config_sets_only_real_non_secret_settings_that_parse() -> None:
    env = tomllib.loads(FLY.read_text())["env"]
    assert env, "the [env] section carries the non-secret settings"
    assert set(env) <= SETTINGS, set(env) - SETTINGS
    assert not set(env) & SECRETS, "secrets belong in `fly secrets set`"
    assert env[PREFIX + "PRODUCTION"] == "true"
    secrets = {
        PREFIX + "DATABASE_URL": "postgres://ferryman:secret@db.internal:5432/ferryman",
        PREFIX + "S3_ENDPOINT": "https://account.r2.cloudflarestorage.com",
        PREFIX + "S3_ACCESS_KEY_ID": "id",
        PREFIX + "S3_SECRET_ACCESS_KEY": "secret",
    }
    settings = Settings.from_env({**env, **secrets})  # a bad value raises SettingsError
    assert settings.production
    assert settings.base_url.startswith("https://")
    text = FLY.read_text()  # the comments too: the secrets they tell to set are real
    assert set(NAMES.findall(text)) <= SETTINGS, set(NAMES.findall(text)) - SETTINGS
    assert set(secrets) <= set(NAMES.findall(text)), "the header lists the secrets to set"
    assert {resolve(words) for words in invocations(text)} == {"migrate", "keys create"}


# --- the systemd unit -----------------------------------------------------------------

UNIT = DEPLOY / "ferryman.service"


def read_unit() -> configparser.ConfigParser:
    # strict=False: a unit may repeat a key (SystemCallFilter=); the last one is kept here.
    unit = configparser.ConfigParser(strict=False, interpolation=None, empty_lines_in_values=False)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read_string(UNIT.read_text())
    return unit


def test_systemd_unit_migrates_then_serves_as_an_unprivileged_user() -> None:
    service = read_unit()["Service"]
    binary = "/opt/ferryman/bin/ferryman"
    pre, start = service["ExecStartPre"].split(), service["ExecStart"].split()
    assert pre[0] == binary
    assert resolve(pre[1:]) == "migrate"
    assert start[0] == binary
    assert resolve(start[1:]) == "serve"
    assert service["User"] not in {"root", "0", ""}
    assert service["EnvironmentFile"] == "/etc/ferryman/ferryman.env"
    assert service["WorkingDirectory"] == "/var/lib/ferryman"
    assert service["WorkingDirectory"] in service["ReadWritePaths"].split()
    assert service["Restart"] == "on-failure"
    hardening = {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "PrivateDevices": "yes",
    }
    assert {key: service.get(key) for key in hardening} == hardening
    assert service["CapabilityBoundingSet"] == ""  # no capabilities at all
    text = UNIT.read_text()  # the install notes in the header too
    assert set(NAMES.findall(text)) <= SETTINGS
    assert {"migrate", "serve", "keys create"} <= {resolve(w) for w in invocations(text)}
    assert read_unit()["Install"]["WantedBy"] == "multi-user.target"


# --- the image ------------------------------------------------------------------------


def image_build_context(destination: Path) -> None:
    """Lay out in ``destination`` what the image's final stage copies before `pip install .`."""
    text = re.sub(r"\\\n", " ", (DEPLOY / "Dockerfile").read_text())
    final_stage = re.split(r"^FROM\s", text, flags=re.M)[-1]
    for line in final_stage.splitlines():
        instruction, _, arguments = line.strip().partition(" ")
        if instruction == "RUN" and re.search(r"pip install \"?\.", arguments):
            return
        if instruction != "COPY" or "--from=" in arguments:
            continue
        *sources, target = arguments.split()
        assert not target.startswith("/"), "COPY targets are relative to WORKDIR /app"
        for source in sources:
            origin = ROOT / source
            assert origin.exists(), f"the Dockerfile copies {source}, which is missing"
            if origin.is_dir():
                shutil.copytree(origin, destination / target, dirs_exist_ok=True)
            elif target.endswith("/") or len(sources) > 1:
                (destination / target).mkdir(parents=True, exist_ok=True)
                shutil.copy2(origin, destination / target / origin.name)
            else:
                shutil.copy2(origin, destination / target)
    raise AssertionError("the Dockerfile's final stage never runs `pip install .`")


def test_image_copies_every_source_the_package_build_reads(tmp_path: Path) -> None:
    image_build_context(tmp_path)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    needed = [project["project"]["readme"], *project["tool"]["setuptools"]["package-dir"].values()]
    missing = [path for path in needed if not (tmp_path / path).exists()]
    assert not missing, f"deploy/Dockerfile does not COPY {missing} before `pip install .`"


def build_backend_is_installed() -> bool:
    """Whether this venv's setuptools satisfies pyproject's build requirement (then the
    wheel builds offline, without an isolated build environment)."""
    (requirement,) = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"][
        "requires"
    ]
    match = re.fullmatch(r"setuptools>=([\d.]+)", requirement)
    assert match, f"unexpected build requirement {requirement!r}"
    try:
        installed = importlib.metadata.version("setuptools")
    except importlib.metadata.PackageNotFoundError:
        return False

    def numbers(version: str) -> tuple[int, ...]:
        return tuple(int(part) for part in re.findall(r"\d+", version)[:3])

    return numbers(installed) >= numbers(match[1])


def test_image_installs_a_wheel_with_the_code_operations_and_migrations(tmp_path: Path) -> None:
    context, wheels = tmp_path / "app", tmp_path / "wheels"
    context.mkdir()
    image_build_context(context)
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(wheels)]
    if build_backend_is_installed():
        command.append("--no-build-isolation")
    built = subprocess.run(
        [*command, str(context)], capture_output=True, text=True, timeout=300, check=False
    )
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = wheels.glob("ferryman-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
        scripts = archive.read(entry_points).decode()
    assert {"ferryman/app.py", "ferryman/cli/__init__.py", "ferryman/settings.py"} <= names
    operations = {
        f"ferryman/operations/{p.name}" for p in (ROOT / "schema/operations").glob("*.graphql")
    }
    assert operations
    assert operations <= names
    migrations = {
        f"ferryman/models/migrations/{p.name}"
        for p in (ROOT / "src/models/migrations").glob("*.py")
    }
    assert len(migrations) > 1
    assert migrations <= names
    assert re.search(r"^ferryman = ferryman\.cli:main$", scripts, re.M)
