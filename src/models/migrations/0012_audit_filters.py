from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    """The audit trail filtered by the person or the key who acted, a page at a time."""

    dependencies = [('models', '0011_people_and_sessions')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='AuditEvent',
            index=Index(fields=['user_id', 'id']),
        ),
        ops.AddIndex(
            model_name='AuditEvent',
            index=Index(fields=['key_id', 'id']),
        ),
    ]
