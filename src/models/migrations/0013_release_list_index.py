from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    """An index that reads an app's releases newest first, a page at a time."""

    dependencies = [('models', '0012_audit_filters')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='Release',
            index=Index(fields=['app_id', 'id']),
        ),
    ]
