from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0005_app_ci_may_publish')]

    initial = False

    operations = [
        ops.AddField(
            model_name='App',
            name='channels',
            field=fields.CharField(default='stable,beta,alpha,nightly', db_default='stable,beta,alpha,nightly', max_length=528),
        ),
        ops.AddField(
            model_name='Release',
            name='channel',
            field=fields.CharField(default='stable', db_default='stable', max_length=32),
        ),
    ]
