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


class LicenseStatus(enum.Enum):
    """An active licence is judged by its coverage; a suspended one may be reactivated,
    a revoked one never."""

    ACTIVE = "ACTIVE"
    SUSPENDED = "SUSPENDED"
    REVOKED = "REVOKED"


class Distribution(enum.Enum):
    """OPEN: anyone may update (no licence). LICENSED: the updater needs a licence key."""

    OPEN = "OPEN"
    LICENSED = "LICENSED"


class ExpiredPolicy(enum.Enum):
    """What a LICENSED app's lapsed licence still receives (after any grace days)."""

    REVOKE = "REVOKE"  # nothing
    MAINTAIN = "MAINTAIN"  # releases whose effective date falls in a covered period
    ALLOW = "ALLOW"  # everything, including future releases
