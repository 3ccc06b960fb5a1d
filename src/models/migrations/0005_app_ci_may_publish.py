from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0004_edge_purges')]

    initial = False

    operations = [
        ops.AddField(
            model_name='App',
            name='ci_may_publish',
            field=fields.BooleanField(default=False, db_default=False),
        ),
    ]
