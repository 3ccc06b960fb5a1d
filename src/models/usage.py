"""What each app's installs did, counted per UTC day: the only analytics that are stored.

Every row is a count (or a sketch of counts) for one app, day and combination of labels
that come from a closed set or from the app's own releases (versions, platform keys,
channels, countries), so the tables grow with apps, versions, platforms and days and
never with the number of installs. No row holds an address, an install id, a licence key
or a user agent, nor anything made from one that outlives its day (see
``analytics.sketch``).

Workers add to these rows in batches (``analytics.recorder``); a count is only ever added
to, in the transaction that takes it out of the worker's memory.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

from ferryman.models.platform import MAX_LENGTH as PLATFORM_LENGTH

if TYPE_CHECKING:
    from ferryman.models.app import App

VERSION_LENGTH = 128
CHANNEL_LENGTH = 32
# The stored version of a check from a version this app never released: versions the
# clients send are free text, and only released ones become rows of their own.
OTHER_VERSION = "other"
# The answer of a check that was offered nothing (204).
NO_UPDATE = "none"
# Cloudflare's code for a country it does not know; every download without one gets it.
UNKNOWN_COUNTRY = "XX"
# Days between an install's last check and this one, as counted in ActiveCount.gap: 1 to
# LONGEST_GAP exactly; LONGEST_GAP + 1 for longer ago and for never.
LONGEST_GAP = 28
NEVER = LONGEST_GAP + 1


class _Day(Model):
    """The labels every daily count has: an app, a UTC day, the version the install runs
    (or was downloading), its platform key and its channel."""

    app: fields.ForeignKeyRelation[App] = fields.ForeignKeyField(
        "models.App", related_name=False, on_delete=fields.CASCADE
    )
    day = fields.DateField()
    version = fields.CharField(max_length=VERSION_LENGTH)
    platform = fields.CharField(max_length=PLATFORM_LENGTH)
    channel = fields.CharField(max_length=CHANNEL_LENGTH)

    class Meta:
        abstract = True


class CheckCount(_Day):
    """Update checks from installs on ``version``, by the version they were offered
    (``answer``; :data:`NO_UPDATE` for none)."""

    answer = fields.CharField(max_length=VERSION_LENGTH)
    checks = fields.BigIntField(default=0)

    class Meta:
        table = "check_counts"
        unique_together = (("app_id", "day", "version", "platform", "channel", "answer"),)


class ActiveCount(_Day):
    """Checks that told the day of the install's previous successful check, by the days
    since (``gap``, 1 to 28, :data:`NEVER` beyond): each is an install's first check of
    the day, and the number of distinct installs over any window of up to 28 days follows
    from these counts alone (``analytics.series``)."""

    gap = fields.SmallIntField()
    installs = fields.BigIntField(default=0)

    class Meta:
        table = "active_counts"
        unique_together = (("app_id", "day", "version", "platform", "channel", "gap"),)


class SketchCount(_Day):
    """A HyperLogLog sketch of the day's installs (``analytics.sketch``): the estimated
    number of distinct installs that checked, without their help. Sketches of the same
    day merge exactly, so a worker merges its own into the row under a row lock."""

    sketch = fields.BinaryField()

    class Meta:
        table = "sketch_counts"
        unique_together = (("app_id", "day", "version", "platform", "channel"),)


class DownloadCount(_Day):
    """Downloads through ``/dl`` of ``version``, by the country the edge named
    (:data:`UNKNOWN_COUNTRY` when none was believed)."""

    country = fields.CharField(max_length=2)
    downloads = fields.BigIntField(default=0)

    class Meta:
        table = "download_counts"
        unique_together = (("app_id", "day", "version", "platform", "channel", "country"),)
