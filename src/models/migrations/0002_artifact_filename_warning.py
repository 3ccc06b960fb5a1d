from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0001_initial')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Artifact',
            name='filename',
            field=fields.CharField(null=True, max_length=255),
        ),
        ops.AddField(
            model_name='Artifact',
            name='warning',
            field=fields.TextField(null=True, unique=False),
        ),
    ]
