"""The deployment files stay in step with the settings they document."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

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
