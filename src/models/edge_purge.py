"""What the outside CDN (Cloudflare) has been told to forget, per app.

Purges are derived from the apps' generations rather than queued: a row says "the CDN
has purged ``app:{slug}`` up to this generation", so a purge that failed is simply
still owed on the next round, and nothing piles up when no CDN is configured.
"""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from ferryman.models.ids import MAX_LENGTH


class EdgePurge(Model):
    app_id = fields.CharField(primary_key=True, max_length=MAX_LENGTH)
    slug = fields.CharField(max_length=64)
    generation = fields.BigIntField()

    class Meta:
        table = "edge_purges"
