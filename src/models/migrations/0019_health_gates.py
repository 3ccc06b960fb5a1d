from tortoise import migrations
from tortoise.migrations import operations as ops
from ferryman.models.webhook import Event
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    """Health gates: day-keyed marks of installs that downloaded a release, the daily
    counts they leave, each release's gate and each gated platform's halt, and the
    artifact flag that takes a halted platform's file off the offer."""

    dependencies = [('models', '0018_signing_keys')]

    initial = False

    operations = [
        ops.CreateModel(
            name='HealthCount',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('release', fields.ForeignKeyField('models.Release', source_field='release_id', db_constraint=True, to_field='id', related_name='health_counts', on_delete=OnDelete.CASCADE)),
                ('platform', fields.CharField(max_length=32)),
                ('day', fields.DateField()),
                ('attempts', fields.IntField(default=0)),
                ('failed', fields.IntField(default=0)),
                ('arrived', fields.IntField(default=0)),
                ('sessions', fields.BigIntField(default=0)),
                ('crashed', fields.BigIntField(default=0)),
            ],
            options={'table': 'health_counts', 'app': 'models', 'unique_together': (('release', 'platform', 'day'),), 'pk_attr': 'id', 'table_description': "A day's counts of one release on one platform: downloads (attempts), failed and"},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='HealthGate',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('release', fields.OneToOneField('models.Release', source_field='release_id', db_constraint=True, to_field='id', related_name='health_gate', on_delete=OnDelete.CASCADE)),
                ('max_failure_rate', fields.FloatField()),
                ('min_crash_free_rate', fields.FloatField(null=True)),
                ('min_sample', fields.IntField()),
                ('interval_seconds', fields.IntField()),
                ('failure_limit', fields.SmallIntField(default=1)),
                ('next_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'health_gates', 'app': 'models', 'indexes': [Index(fields=['next_at'])], 'pk_attr': 'id', 'table_description': "A release's thresholds, and when it is next evaluated."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='HealthMark',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('day', fields.DateField()),
                ('release', fields.ForeignKeyField('models.Release', source_field='release_id', db_constraint=True, to_field='id', related_name='health_marks', on_delete=OnDelete.CASCADE)),
                ('platform', fields.CharField(max_length=32)),
                ('token', fields.BinaryField()),
                ('marked_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('failed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('arrived_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'health_marks', 'app': 'models', 'unique_together': (('day', 'token', 'release', 'platform'),), 'pk_attr': 'id', 'table_description': "One install that downloaded a release's file today, as a token of the day."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='HealthState',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('release', fields.ForeignKeyField('models.Release', source_field='release_id', db_constraint=True, to_field='id', related_name='health_states', on_delete=OnDelete.CASCADE)),
                ('platform', fields.CharField(max_length=32)),
                ('breaches', fields.SmallIntField(default=0)),
                ('halted_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('halt_reason', fields.TextField(null=True, unique=False)),
                ('lifted_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('lifted_by', fields.CharField(null=True, max_length=64)),
                ('lift_reason', fields.TextField(null=True, unique=False)),
                ('base_attempts', fields.IntField(default=0)),
                ('base_failed', fields.IntField(default=0)),
                ('base_arrived', fields.IntField(default=0)),
                ('base_sessions', fields.BigIntField(default=0)),
                ('base_crashed', fields.BigIntField(default=0)),
            ],
            options={'table': 'health_states', 'app': 'models', 'unique_together': (('release', 'platform'),), 'pk_attr': 'id', 'table_description': 'A gated platform of a release: breaches in a row, its halt, its last lift, and the'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Artifact',
            name='halted_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AlterField(
            model_name='Notification',
            name='type',
            field=fields.CharEnumField(description='RELEASE_PUBLISHED: release.published\nRELEASE_ARCHIVED: release.archived\nRELEASE_YANKED: release.yanked\nRELEASE_ROLLED_BACK: release.rolled_back\nRELEASE_ROLLOUT_CHANGED: release.rollout_changed\nRELEASE_HALTED: release.halted\nCI_SUBMISSION_FAILED: ci.submission_failed\nARTIFACT_VERIFICATION_FAILED: artifact.verification_failed\nLICENSE_EXPIRING: license.expiring\nLICENSE_EXPIRED: license.expired\nAPI_KEY_CREATED: api_key.created\nAPI_KEY_REVOKED: api_key.revoked\nTEST: webhook.test', enum_type=Event, max_length=40),
        ),
    ]
