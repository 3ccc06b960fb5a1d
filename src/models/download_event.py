"""One download of an update binary, for analytics."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

from ferryman.models.ids import MAX_LENGTH
from ferryman.models.platform import MAX_LENGTH as PLATFORM_LENGTH

if TYPE_CHECKING:
    from ferryman.models.app import App
    from ferryman.models.artifact import Artifact


class DownloadEvent(Model):
    id = fields.CharField(primary_key=True, max_length=MAX_LENGTH)
    artifact: fields.ForeignKeyNullableRelation[Artifact] = fields.ForeignKeyField(
        "models.Artifact", related_name="downloads", null=True, on_delete=fields.SET_NULL
    )
    app: fields.ForeignKeyRelation[App] = fields.ForeignKeyField(
        "models.App", related_name="downloads", on_delete=fields.CASCADE
    )
    platform = fields.CharField(max_length=PLATFORM_LENGTH)
    version = fields.CharField(max_length=128)
    ip_country = fields.CharField(max_length=2, null=True)
    downloaded_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "download_events"
        indexes = (("app_id", "downloaded_at"),)
