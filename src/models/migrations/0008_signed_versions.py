from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
import base64


def _signed_version(signature: str) -> str | None:
    # The first tab-separated "version:" field of the trusted comment (line 3), as the
    # updater reads it; the signature was verified when its artifact was confirmed.
    try:
        lines = base64.b64decode(signature).decode().split("\n")
    except ValueError:
        return None
    if len(lines) < 3 or not lines[2].startswith("trusted comment: "):
        return None
    fields_ = lines[2].removesuffix("\r")[len("trusted comment: "):].split("\t")
    return next((f[len("version:"):] for f in fields_ if f.startswith("version:")), None)


async def _backfill(apps, schema_editor) -> None:
    client = schema_editor.client
    _, rows = await client.execute_query("SELECT id, signature FROM artifacts")
    mark = "?" if client.capabilities.dialect == "sqlite" else "$1"
    mark2 = "?" if client.capabilities.dialect == "sqlite" else "$2"
    for row in rows:
        version = _signed_version(row["signature"])
        if version is not None:
            await client.execute_query(
                f"UPDATE artifacts SET signed_version = {mark} WHERE id = {mark2}",
                [version, row["id"]],
            )


class Migration(migrations.Migration):
    dependencies = [('models', '0007_licences_rollouts_yanks')]

    initial = False

    operations = [
        ops.AddField(
            model_name='App',
            name='require_signed_version',
            field=fields.BooleanField(default=False, db_default=False),
        ),
        ops.AddField(
            model_name='Artifact',
            name='signed_version',
            field=fields.TextField(null=True, unique=False),
        ),
        ops.RunPython(_backfill, ops.RunPython.noop),
    ]
