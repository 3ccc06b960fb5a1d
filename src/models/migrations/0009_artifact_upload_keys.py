from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
import re
from urllib.parse import quote, unquote

# A /dl link as versions before 0009 froze it: {server}/dl/{slug}/{quoted version}/{platform}.
_LEGACY = re.compile(r"(?P<server>.*)/dl/(?P<slug>[a-z0-9-]+)/(?P<version>[^/?#]+)/(?P<platform>[^/?#]+)")


def _marks(client, count: int) -> list[str]:
    if client.capabilities.dialect == "sqlite":
        return ["?"] * count
    return [f"${n}" for n in range(1, count + 1)]


async def _forward(apps, schema_editor) -> None:
    client = schema_editor.client
    # Every key stored so far was also where its file was uploaded (a presigned URL issued
    # before this version may still write it): confirming again copies from there.
    await client.execute_query("UPDATE artifacts SET upload_key = object_key")
    # A draft's READY file is still served from there once published, which an upload URL
    # issued before this version may still write: confirming again copies and checks it.
    await client.execute_query(
        "UPDATE artifacts SET status = 'PENDING', checksum = NULL, download_url = NULL "
        "WHERE status = 'READY' AND release_id IN "
        "(SELECT id FROM releases WHERE status = 'draft')"
    )
    # Links named the slug: name the app by id, and remember the old link, which stays
    # good for this artifact alone.
    _, rows = await client.execute_query(
        "SELECT a.id, a.platform, a.download_url, r.version, r.app_id FROM artifacts a "
        "JOIN releases r ON r.id = a.release_id WHERE a.download_url IS NOT NULL"
    )
    url, link, artifact = _marks(client, 3)
    for row in rows:
        found = _LEGACY.fullmatch(row["download_url"])
        if (
            found is None
            or found["platform"] != row["platform"]
            or unquote(found["version"]) != row["version"]
        ):
            continue  # a public bucket URL: keyed by the object, it names no app
        version = quote(row["version"], safe="")
        await client.execute_query(
            f"UPDATE artifacts SET download_url = {url}, legacy_link = {link} WHERE id = {artifact}",
            [
                f"{found['server']}/dl/{row['app_id']}/{version}/{row['platform']}",
                f"{found['slug']}/{row['version']}/{row['platform']}",
                row["id"],
            ],
        )


async def _backward(apps, schema_editor) -> None:
    client = schema_editor.client
    _, rows = await client.execute_query(
        "SELECT id, download_url, legacy_link FROM artifacts WHERE legacy_link IS NOT NULL"
    )
    url, artifact = _marks(client, 2)
    for row in rows:
        server = row["download_url"].split("/dl/", 1)[0]
        slug, version, platform = row["legacy_link"].split("/")
        await client.execute_query(
            f"UPDATE artifacts SET download_url = {url} WHERE id = {artifact}",
            [f"{server}/dl/{slug}/{quote(version, safe='')}/{platform}", row["id"]],
        )


class Migration(migrations.Migration):
    dependencies = [('models', '0008_signed_versions')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Artifact',
            name='legacy_link',
            field=fields.CharField(null=True, db_index=True, max_length=256),
        ),
        ops.AddField(
            model_name='Artifact',
            name='upload_key',
            field=fields.CharField(null=True, max_length=1024),
        ),
        ops.RunPython(_forward, _backward),
    ]
