"""Artifacts: one update binary per platform of a release, stored in object storage."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

from ferryman.models.ids import MAX_LENGTH
from ferryman.models.platform import MAX_LENGTH as PLATFORM_LENGTH
from ferryman.models.status import ArtifactStatus

if TYPE_CHECKING:
    from ferryman.models.release import Release


class Artifact(Model):
    id = fields.CharField(primary_key=True, max_length=MAX_LENGTH)
    release: fields.ForeignKeyRelation[Release] = fields.ForeignKeyField(
        "models.Release", related_name="artifacts", on_delete=fields.CASCADE
    )
    platform = fields.CharField(max_length=PLATFORM_LENGTH)
    signature = fields.TextField()
    object_key = fields.CharField(max_length=1024)
    download_url = fields.TextField(null=True)
    file_size = fields.BigIntField(null=True)
    checksum = fields.CharField(max_length=64, null=True)
    status = fields.CharEnumField(ArtifactStatus, max_length=16, default=ArtifactStatus.PENDING)
    failure_reason = fields.TextField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    release_id: str

    class Meta:
        table = "artifacts"
        unique_together = (("release", "platform"),)
