from tortoise import migrations
from tortoise.migrations import operations as ops
from ferryman.models.signing_key import KeyState
from tortoise.fields.base import OnDelete
from tortoise import fields
import base64


def _key_id(signature: str) -> str | None:
    # Bytes 2-10 of the signature line (line 2) name the key, printed reversed in
    # upper-case hex as minisign and the Tauri CLI print it; the signature was verified
    # when its artifact was confirmed.
    try:
        lines = base64.b64decode(signature).decode().split("\n")
        blob = base64.b64decode(lines[1].strip())
    except (ValueError, IndexError):
        return None
    return blob[2:10][::-1].hex().upper() if len(blob) >= 10 else None


async def _backfill(apps, schema_editor) -> None:
    client = schema_editor.client
    _, rows = await client.execute_query("SELECT id, signature FROM artifacts")
    sqlite = client.capabilities.dialect == "sqlite"
    marks = ("?", "?") if sqlite else ("$1", "$2")
    for row in rows:
        key_id = _key_id(row["signature"])
        if key_id is not None:
            await client.execute_query(
                f"UPDATE artifacts SET key_id = {marks[0]} WHERE id = {marks[1]}",
                [key_id, row["id"]],
            )


class Migration(migrations.Migration):
    """An app's signing keys (written once it adds a second), the key that signed each
    artifact (read out of the signatures stored before), and the key a bridge release
    ships."""

    dependencies = [('models', '0017_rollout_ramps')]

    initial = False

    operations = [
        ops.CreateModel(
            name='SigningKey',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=32)),
                ('app', fields.ForeignKeyField('models.App', source_field='app_id', db_constraint=True, to_field='id', related_name='signing_keys', on_delete=OnDelete.CASCADE)),
                ('position', fields.SmallIntField()),
                ('key_id', fields.CharField(max_length=16)),
                ('public_key', fields.TextField(unique=False)),
                ('state', fields.CharEnumField(description='NEXT: NEXT\nACTIVE: ACTIVE\nRETIRED: RETIRED', enum_type=KeyState, max_length=16)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('retired_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'signing_keys', 'app': 'models', 'unique_together': (('app', 'key_id'), ('app', 'position')), 'pk_attr': 'id', 'table_description': "One of an app's updater public keys."},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Artifact',
            name='key_id',
            field=fields.CharField(null=True, max_length=16),
        ),
        ops.AddField(
            model_name='Release',
            name='bridge_to',
            field=fields.ForeignKeyField('models.SigningKey', source_field='bridge_to_id', null=True, db_constraint=True, to_field='id', related_name='bridges', on_delete=OnDelete.RESTRICT),
        ),
        ops.RunPython(_backfill, ops.RunPython.noop),
    ]
