from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0003_cache_generations')]

    initial = False

    operations = [
        ops.CreateModel(
            name='EdgePurge',
            fields=[
                ('app_id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=32)),
                ('slug', fields.CharField(max_length=64)),
                ('generation', fields.BigIntField()),
            ],
            options={'table': 'edge_purges', 'app': 'models', 'pk_attr': 'app_id'},
            bases=['Model'],
        ),
    ]
