from tortoise import migrations
from tortoise.migrations import operations as ops
from ferryman.models.status import Distribution, ExpiredPolicy, LicenseStatus
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0006_channels')]

    initial = False

    operations = [
        ops.CreateModel(
            name='License',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=32)),
                ('app', fields.ForeignKeyField('models.App', source_field='app_id', db_constraint=True, to_field='id', related_name='licenses', on_delete=OnDelete.CASCADE)),
                ('key_hash', fields.CharField(unique=True, max_length=64)),
                ('prefix', fields.CharField(max_length=16)),
                ('customer', fields.CharField(null=True, max_length=200)),
                ('status', fields.CharEnumField(default=LicenseStatus.ACTIVE, description='ACTIVE: ACTIVE\nSUSPENDED: SUSPENDED\nREVOKED: REVOKED', enum_type=LicenseStatus, max_length=16)),
                ('status_reason', fields.TextField(null=True, unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'licenses', 'app': 'models', 'indexes': [Index(fields=['app_id', 'id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='CoveragePeriod',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=32)),
                ('license', fields.ForeignKeyField('models.License', source_field='license_id', db_constraint=True, to_field='id', related_name='periods', on_delete=OnDelete.CASCADE)),
                ('starts_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('ends_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'license_periods', 'app': 'models', 'indexes': [Index(fields=['license_id', 'starts_at'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='App',
            name='distribution',
            field=fields.CharEnumField(default=Distribution.OPEN, description='OPEN: OPEN\nLICENSED: LICENSED', db_default='OPEN', enum_type=Distribution, max_length=16),
        ),
        ops.AddField(
            model_name='App',
            name='expired_policy',
            field=fields.CharEnumField(default=ExpiredPolicy.MAINTAIN, description='REVOKE: REVOKE\nMAINTAIN: MAINTAIN\nALLOW: ALLOW', db_default='MAINTAIN', enum_type=ExpiredPolicy, max_length=16),
        ),
        ops.AddField(
            model_name='App',
            name='grace_days',
            field=fields.IntField(default=0, db_default=0),
        ),
        ops.AddField(
            model_name='App',
            name='offer_downgrade_on_yank',
            field=fields.BooleanField(default=False, db_default=False),
        ),
        ops.AddField(
            model_name='Release',
            name='coverage_date',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Release',
            name='rollout_percent',
            field=fields.SmallIntField(default=100, db_default=100),
        ),
        ops.AddField(
            model_name='Release',
            name='yank_reason',
            field=fields.TextField(null=True, unique=False),
        ),
        ops.AddField(
            model_name='Release',
            name='yanked_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
    ]
