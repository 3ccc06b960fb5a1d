"""Lifecycle states, kept apart from the tables so every module can name them."""

from __future__ import annotations

import enum


class ReleaseStatus(enum.Enum):
    """draft → published → archived; only published releases reach installed apps."""

    DRAFT = "draft"
    PUBLISHED = "published"
    ARCHIVED = "archived"


class ArtifactStatus(enum.Enum):
    """PENDING until the stored file is verified, then READY or FAILED."""

    PENDING = "PENDING"
    READY = "READY"
    FAILED = "FAILED"
