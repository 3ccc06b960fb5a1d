"""The deployment files stay in step with the settings they document."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from ferryman.settings import PREFIX, Settings

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
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
