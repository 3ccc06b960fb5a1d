from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields


async def _roll_up_downloads(apps, schema_editor) -> None:
    # Each download event becomes part of its day's count; the events (and their time of
    # day) go with their table. An event whose artifact was deleted since counts under
    # its app's most stable channel (the first of its comma-separated order), as a check
    # that names no channel does.
    client = schema_editor.client
    if client.capabilities.dialect == "postgres":
        day = "CAST(e.downloaded_at AT TIME ZONE 'UTC' AS DATE)"
        first_channel = "split_part(p.channels, ',', 1)"
    else:
        day = "DATE(e.downloaded_at)"
        first_channel = (
            "CASE WHEN instr(p.channels, ',') > 0 "
            "THEN substr(p.channels, 1, instr(p.channels, ',') - 1) ELSE p.channels END"
        )
    await client.execute_query(
        "INSERT INTO download_counts "
        "(app_id, day, version, platform, channel, country, downloads) "
        f"SELECT e.app_id, {day}, e.version, e.platform, COALESCE(r.channel, {first_channel}), "
        "COALESCE(e.ip_country, 'XX'), COUNT(*) FROM download_events e "
        "JOIN apps p ON p.id = e.app_id "
        "LEFT JOIN artifacts a ON a.id = e.artifact_id "
        "LEFT JOIN releases r ON r.id = a.release_id "
        "GROUP BY 1, 2, 3, 4, 5, 6"
    )


class Migration(migrations.Migration):
    """Daily counts of update checks, active installs, install sketches and downloads;
    download events are rolled up into the counts and dropped."""

    dependencies = [('models', '0015_daily_keys')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ActiveCount',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('app', fields.ForeignKeyField('models.App', source_field='app_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('day', fields.DateField()),
                ('version', fields.CharField(max_length=128)),
                ('platform', fields.CharField(max_length=32)),
                ('channel', fields.CharField(max_length=32)),
                ('gap', fields.SmallIntField()),
                ('installs', fields.BigIntField(default=0)),
            ],
            options={'table': 'active_counts', 'app': 'models', 'unique_together': (('app_id', 'day', 'version', 'platform', 'channel', 'gap'),), 'pk_attr': 'id', 'table_description': "Checks that told the day of the install's previous successful check, by the days"},
            bases=['_Day'],
        ),
        ops.CreateModel(
            name='CheckCount',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('app', fields.ForeignKeyField('models.App', source_field='app_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('day', fields.DateField()),
                ('version', fields.CharField(max_length=128)),
                ('platform', fields.CharField(max_length=32)),
                ('channel', fields.CharField(max_length=32)),
                ('answer', fields.CharField(max_length=128)),
                ('checks', fields.BigIntField(default=0)),
            ],
            options={'table': 'check_counts', 'app': 'models', 'unique_together': (('app_id', 'day', 'version', 'platform', 'channel', 'answer'),), 'pk_attr': 'id', 'table_description': 'Update checks from installs on ``version``, by the version they were offered'},
            bases=['_Day'],
        ),
        ops.CreateModel(
            name='DownloadCount',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('app', fields.ForeignKeyField('models.App', source_field='app_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('day', fields.DateField()),
                ('version', fields.CharField(max_length=128)),
                ('platform', fields.CharField(max_length=32)),
                ('channel', fields.CharField(max_length=32)),
                ('country', fields.CharField(max_length=2)),
                ('downloads', fields.BigIntField(default=0)),
            ],
            options={'table': 'download_counts', 'app': 'models', 'unique_together': (('app_id', 'day', 'version', 'platform', 'channel', 'country'),), 'pk_attr': 'id', 'table_description': 'Downloads through ``/dl`` of ``version``, by the country the edge named'},
            bases=['_Day'],
        ),
        ops.CreateModel(
            name='SketchCount',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('app', fields.ForeignKeyField('models.App', source_field='app_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('day', fields.DateField()),
                ('version', fields.CharField(max_length=128)),
                ('platform', fields.CharField(max_length=32)),
                ('channel', fields.CharField(max_length=32)),
                ('sketch', fields.BinaryField()),
            ],
            options={'table': 'sketch_counts', 'app': 'models', 'unique_together': (('app_id', 'day', 'version', 'platform', 'channel'),), 'pk_attr': 'id', 'table_description': "A HyperLogLog sketch of the day's installs (``analytics.sketch``): the estimated"},
            bases=['_Day'],
        ),
        ops.RunPython(_roll_up_downloads, ops.RunPython.noop),
        ops.DeleteModel(name='DownloadEvent'),
    ]
