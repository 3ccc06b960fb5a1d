from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from ferryman.models.notification import DeliveryStatus
from ferryman.models.webhook import Event, Kind
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    """The notification outbox, the endpoints that listen, and each delivery's state."""

    dependencies = [('models', '0013_release_list_index')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Notification',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=32)),
                ('type', fields.CharEnumField(description='RELEASE_PUBLISHED: release.published\nRELEASE_ARCHIVED: release.archived\nRELEASE_YANKED: release.yanked\nRELEASE_ROLLED_BACK: release.rolled_back\nRELEASE_ROLLOUT_CHANGED: release.rollout_changed\nCI_SUBMISSION_FAILED: ci.submission_failed\nARTIFACT_VERIFICATION_FAILED: artifact.verification_failed\nLICENSE_EXPIRING: license.expiring\nLICENSE_EXPIRED: license.expired\nAPI_KEY_CREATED: api_key.created\nAPI_KEY_REVOKED: api_key.revoked\nTEST: webhook.test', enum_type=Event, max_length=40)),
                ('app_id', fields.CharField(null=True, max_length=32)),
                ('dedupe_key', fields.CharField(null=True, unique=True, max_length=160)),
                ('body', fields.TextField(unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'notifications', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Webhook',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=32)),
                ('app', fields.ForeignKeyField('models.App', source_field='app_id', null=True, db_constraint=True, to_field='id', related_name='webhooks', on_delete=OnDelete.CASCADE)),
                ('kind', fields.CharEnumField(description='WEBHOOK: WEBHOOK\nSLACK: SLACK\nDISCORD: DISCORD\nEMAIL: EMAIL', enum_type=Kind, max_length=8)),
                ('url', fields.TextField(null=True, unique=False)),
                ('recipients', fields.TextField(null=True, unique=False)),
                ('events', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('secret', fields.CharField(null=True, max_length=80)),
                ('previous_secret', fields.CharField(null=True, max_length=80)),
                ('previous_until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('max_in_flight', fields.IntField(default=4)),
                ('enabled', fields.BooleanField(default=True)),
                ('disabled_reason', fields.TextField(null=True, unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'webhooks', 'app': 'models', 'indexes': [Index(fields=['app_id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Delivery',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=32)),
                ('notification', fields.ForeignKeyField('models.Notification', source_field='notification_id', db_constraint=True, to_field='id', related_name='deliveries', on_delete=OnDelete.CASCADE)),
                ('webhook', fields.ForeignKeyField('models.Webhook', source_field='webhook_id', db_constraint=True, to_field='id', related_name='deliveries', on_delete=OnDelete.CASCADE)),
                ('status', fields.CharEnumField(default=DeliveryStatus.PENDING, description='PENDING: PENDING\nSUCCEEDED: SUCCEEDED\nFAILED: FAILED', enum_type=DeliveryStatus, max_length=12)),
                ('attempts', fields.IntField(default=0)),
                ('next_attempt_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('last_attempt_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('last_status_code', fields.IntField(null=True)),
                ('last_error', fields.TextField(null=True, unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'deliveries', 'app': 'models', 'indexes': [Index(fields=['status', 'next_attempt_at']), Index(fields=['webhook_id', 'id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
