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
    user_id = fields.CharField(max_length=MAX_LENGTH, null=True)
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
    """Write one audit row; call inside the transaction that makes the change.

    Every change is audited, so this is also the last guard of the rule that viewers
    change nothing: whatever check an operation forgot, its transaction fails here.
    """
    actor.require_writer(action)
    return await AuditEvent.create(
        id=new_id("evt"),
        key_id=actor.key_id,
        user_id=actor.user_id,
        app_id=app_id,
        action=action,
        target_id=target_id,
        request_id=actor.request_id,
        summary=summary,
    )


async def record_own(user_id: str, action: str, summary: str) -> AuditEvent:
    """Write one audit row for a change people make to their own account (any role may)."""
    return await AuditEvent.create(
        id=new_id("evt"), user_id=user_id, action=action, target_id=user_id, summary=summary
    )


def visible(actor: Actor, app_id: str | None) -> QuerySet[AuditEvent]:
    """The trail an admin may read: everything, or only its own app's events."""
    actor.require_reader("reading the audit trail")
    events = AuditEvent.all() if actor.apps is None else AuditEvent.filter(app_id__in=actor.apps)
    if app_id is None:
        return events
    return events.filter(app_id=ids.require(app_id, "app", ("appId",)))
