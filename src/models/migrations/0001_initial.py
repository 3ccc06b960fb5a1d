from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index
from tortoise.migrations import operations as ops

from ferryman.models.actor import KeyScope
from ferryman.models.status import ArtifactStatus, ReleaseStatus


class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name="App",
            fields=[
                (
                    "id",
                    fields.CharField(primary_key=True, unique=True, db_index=True, max_length=32),
                ),
                ("slug", fields.CharField(unique=True, max_length=64)),
                ("name", fields.CharField(max_length=200)),
                ("description", fields.TextField(null=True, unique=False)),
                ("public_key", fields.TextField(null=True, unique=False)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={"table": "apps", "app": "models", "pk_attr": "id"},
            bases=["Model"],
        ),
        ops.CreateModel(
            name="ApiKey",
            fields=[
                (
                    "id",
                    fields.CharField(primary_key=True, unique=True, db_index=True, max_length=32),
                ),
                (
                    "app",
                    fields.ForeignKeyField(
                        "models.App",
                        source_field="app_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name="api_keys",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("name", fields.CharField(max_length=200)),
                ("key_hash", fields.CharField(unique=True, max_length=64)),
                ("prefix", fields.CharField(max_length=16)),
                (
                    "scope",
                    fields.CharEnumField(
                        description="ADMIN: admin\nCI: ci", enum_type=KeyScope, max_length=8
                    ),
                ),
                (
                    "last_used_at",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("revoked_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "api_keys",
                "app": "models",
                "indexes": [Index(fields=["app_id"])],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="AuditEvent",
            fields=[
                (
                    "id",
                    fields.CharField(primary_key=True, unique=True, db_index=True, max_length=32),
                ),
                ("key_id", fields.CharField(null=True, max_length=32)),
                ("app_id", fields.CharField(null=True, max_length=32)),
                ("action", fields.CharField(max_length=64)),
                ("target_id", fields.CharField(max_length=32)),
                ("request_id", fields.CharField(null=True, max_length=64)),
                ("summary", fields.TextField(unique=False)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={
                "table": "audit_events",
                "app": "models",
                "indexes": [Index(fields=["app_id", "id"])],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Release",
            fields=[
                (
                    "id",
                    fields.CharField(primary_key=True, unique=True, db_index=True, max_length=32),
                ),
                (
                    "app",
                    fields.ForeignKeyField(
                        "models.App",
                        source_field="app_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="releases",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("version", fields.CharField(max_length=128)),
                ("notes", fields.TextField(null=True, unique=False)),
                (
                    "status",
                    fields.CharEnumField(
                        default=ReleaseStatus.DRAFT,
                        description="DRAFT: draft\nPUBLISHED: published\nARCHIVED: archived",
                        enum_type=ReleaseStatus,
                        max_length=16,
                    ),
                ),
                ("pub_date", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={
                "table": "releases",
                "app": "models",
                "unique_together": (("app", "version"),),
                "indexes": [Index(fields=["app_id", "status"])],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Artifact",
            fields=[
                (
                    "id",
                    fields.CharField(primary_key=True, unique=True, db_index=True, max_length=32),
                ),
                (
                    "release",
                    fields.ForeignKeyField(
                        "models.Release",
                        source_field="release_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="artifacts",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("platform", fields.CharField(max_length=32)),
                ("signature", fields.TextField(unique=False)),
                ("object_key", fields.CharField(max_length=1024)),
                ("download_url", fields.TextField(null=True, unique=False)),
                ("file_size", fields.BigIntField(null=True)),
                ("checksum", fields.CharField(null=True, max_length=64)),
                (
                    "status",
                    fields.CharEnumField(
                        default=ArtifactStatus.PENDING,
                        description="PENDING: PENDING\nREADY: READY\nFAILED: FAILED",
                        enum_type=ArtifactStatus,
                        max_length=16,
                    ),
                ),
                ("failure_reason", fields.TextField(null=True, unique=False)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={
                "table": "artifacts",
                "app": "models",
                "unique_together": (("release", "platform"),),
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="DownloadEvent",
            fields=[
                (
                    "id",
                    fields.CharField(primary_key=True, unique=True, db_index=True, max_length=32),
                ),
                (
                    "artifact",
                    fields.ForeignKeyField(
                        "models.Artifact",
                        source_field="artifact_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name="downloads",
                        on_delete=OnDelete.SET_NULL,
                    ),
                ),
                (
                    "app",
                    fields.ForeignKeyField(
                        "models.App",
                        source_field="app_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="downloads",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("platform", fields.CharField(max_length=32)),
                ("version", fields.CharField(max_length=128)),
                ("ip_country", fields.CharField(null=True, max_length=2)),
                ("downloaded_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={
                "table": "download_events",
                "app": "models",
                "indexes": [Index(fields=["app_id", "downloaded_at"])],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
    ]
