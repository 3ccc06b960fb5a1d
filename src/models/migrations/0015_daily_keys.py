from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    """One random key per UTC day for install tokens, deleted once the day is over."""

    dependencies = [('models', '0014_notifications')]

    initial = False

    operations = [
        ops.CreateModel(
            name='DailyKey',
            fields=[
                ('day', fields.DateField(primary_key=True, unique=True, db_index=True)),
                ('secret', fields.BinaryField()),
            ],
            options={'table': 'daily_keys', 'app': 'models', 'pk_attr': 'day'},
            bases=['Model'],
        ),
    ]
