from tortoise import migrations
from tortoise.migrations import operations as ops
from ferryman.models.actor import Role
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    """People who sign in to the console, the apps each is limited to, their sessions,
    and the person named by each audit event."""

    dependencies = [('models', '0010_per_app_generations')]

    initial = False

    operations = [
        ops.CreateModel(
            name='User',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=32)),
                ('email', fields.CharField(unique=True, max_length=254)),
                ('password_hash', fields.CharField(null=True, max_length=200)),
                ('role', fields.CharEnumField(description='OWNER: owner\nADMIN: admin\nCI: ci\nVIEWER: viewer', enum_type=Role, max_length=8)),
                ('all_apps', fields.BooleanField(default=True)),
                ('link_hash', fields.CharField(null=True, unique=True, max_length=64)),
                ('link_expires_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'users', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Grant',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=32)),
                ('user', fields.ForeignKeyField('models.User', source_field='user_id', db_constraint=True, to_field='id', related_name='grants', on_delete=OnDelete.CASCADE)),
                ('app', fields.ForeignKeyField('models.App', source_field='app_id', db_constraint=True, to_field='id', related_name='grants', on_delete=OnDelete.CASCADE)),
            ],
            options={'table': 'user_apps', 'app': 'models', 'unique_together': (('user_id', 'app_id'),), 'pk_attr': 'id', 'table_description': 'One app a person limited to chosen apps may act on (goes with the app).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Session',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=32)),
                ('token_hash', fields.CharField(unique=True, max_length=64)),
                ('user', fields.ForeignKeyField('models.User', source_field='user_id', db_constraint=True, to_field='id', related_name='sessions', on_delete=OnDelete.CASCADE)),
                ('csrf_token', fields.CharField(max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('last_seen_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'sessions', 'app': 'models', 'indexes': [Index(fields=['user_id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='AuditEvent',
            name='user_id',
            field=fields.CharField(null=True, max_length=32),
        ),
    ]
