from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0002_artifact_filename_warning')]

    initial = False

    operations = [
        ops.CreateModel(
            name='CacheCounter',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('value', fields.BigIntField(default=0)),
            ],
            options={'table': 'cache_counter', 'app': 'models', 'pk_attr': 'id', 'table_description': 'One row: the last generation handed out.'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='App',
            name='generation',
            field=fields.BigIntField(default=0, db_default=0),
        ),
        # The counter's one row, so that bumping it is a plain UPDATE in every transaction.
        ops.RunSQL(
            "INSERT INTO cache_counter (id, value) VALUES (1, 0)",
            reverse_sql="DELETE FROM cache_counter WHERE id = 1",
        ),
    ]
