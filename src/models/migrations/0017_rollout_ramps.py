from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    """Rollout schedules: a release's steps of percentage and time, how far it has come, and
    its pause (when, by whom, why)."""

    dependencies = [('models', '0016_usage_counts')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Ramp',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('release', fields.OneToOneField('models.Release', source_field='release_id', db_constraint=True, to_field='id', related_name='ramp', on_delete=OnDelete.CASCADE)),
                ('reached', fields.SmallIntField(default=0)),
                ('next_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('paused_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('paused_by', fields.CharField(null=True, max_length=64)),
                ('pause_reason', fields.TextField(null=True, unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'ramps', 'app': 'models', 'indexes': [Index(fields=['next_at'])], 'pk_attr': 'id', 'table_description': "A release's rollout schedule and how far it has come."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='RampStep',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('ramp', fields.ForeignKeyField('models.Ramp', source_field='ramp_id', db_constraint=True, to_field='id', related_name='steps', on_delete=OnDelete.CASCADE)),
                ('position', fields.SmallIntField()),
                ('percent', fields.SmallIntField()),
                ('not_before', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('reached_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'ramp_steps', 'app': 'models', 'unique_together': (('ramp', 'position'),), 'pk_attr': 'id', 'table_description': 'One step: from ``not_before`` on, the release goes to ``percent``.'},
            bases=['Model'],
        ),
    ]
