from tortoise import migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    """Each app counts its own generation: the database-wide counter row goes.

    The apps keep the values the counter gave them, and count on from there.
    """

    dependencies = [('models', '0009_artifact_upload_keys')]

    initial = False

    operations = [
        ops.DeleteModel(name='CacheCounter'),
    ]
