"""The audit trail: who did what, written in the same transaction as the change."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model
from tortoise.queryset import QuerySet

from ferryman.models import ids
from ferryman.models.actor import Actor
from ferryman.models.ids import MAX_LENGTH, new_id


class AuditEvent(Model):
    # Plain ids, not foreign keys: the trail outlives the apps and keys it mentions.
    id = fields.CharField(primary_key=True, max_length=MAX_LENGTH)
    key_id = fields.CharField(max_length=MAX_LENGTH, null=True)
    app_id = fields.CharField(max_length=MAX_LENGTH, null=True)
    action = fields.CharField(max_length=64)
    target_id = fields.CharField(max_length=MAX_LENGTH)
    request_id = fields.CharField(max_length=64, null=True)
    summary = fields.TextField()
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "audit_events"
        indexes = (("app_id", "id"),)


async def record(
    actor: Actor, action: str, target_id: str, app_id: str | None, summary: str
) -> AuditEvent:
    """Write one audit row; call inside the transaction that makes the change."""
    return await AuditEvent.create(
        id=new_id("evt"),
        key_id=actor.key_id,
        app_id=app_id,
        action=action,
        target_id=target_id,
        request_id=actor.request_id,
        summary=summary,
    )


def visible(actor: Actor, app_id: str | None) -> QuerySet[AuditEvent]:
    """The trail an admin may read: everything, or only its own app's events."""
    actor.require_admin("reading the audit trail")
    events = AuditEvent.all() if actor.is_global else AuditEvent.filter(app_id=actor.app_id)
    if app_id is None:
        return events
    return events.filter(app_id=ids.require(app_id, "app", ("appId",)))
