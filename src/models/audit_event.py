"""The audit trail: who did what, written in the same transaction as the change."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from tortoise import fields
from tortoise.models import Model
from tortoise.queryset import QuerySet

from ferryman.models import ids
from ferryman.models.actor import Actor
from ferryman.models.errors import InvalidInput
from ferryman.models.ids import MAX_LENGTH, new_id
from ferryman.models.moment import utc
from ferryman.models.text import reject_text

ACTION_MAX = 64


class AuditEvent(Model):
    # Plain ids, not foreign keys: the trail outlives the apps and keys it mentions.
    id = fields.CharField(primary_key=True, max_length=MAX_LENGTH)
    key_id = fields.CharField(max_length=MAX_LENGTH, null=True)
    user_id = fields.CharField(max_length=MAX_LENGTH, null=True)
    app_id = fields.CharField(max_length=MAX_LENGTH, null=True)
    action = fields.CharField(max_length=ACTION_MAX)
    target_id = fields.CharField(max_length=MAX_LENGTH)
    request_id = fields.CharField(max_length=64, null=True)
    summary = fields.TextField()
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "audit_events"
        # Each filter's column with the id, so a filtered page is one index range.
        indexes = (("app_id", "id"), ("user_id", "id"), ("key_id", "id"))


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


@dataclasses.dataclass(frozen=True, slots=True)
class AuditSearch:
    """Which events to list; None leaves a criterion out."""

    app_id: str | None = None
    actor_id: str | None = None  # the person (usr_…) or key (key_…) who acted
    action: str | None = None  # an action, or the start of one ("license." for all of them)
    since: datetime | None = None
    until: datetime | None = None  # before


def visible(actor: Actor, search: AuditSearch | None = None) -> QuerySet[AuditEvent]:
    """The trail an admin may read (everything, or only its own apps' events) that
    matches ``search``."""
    actor.require_reader("reading the audit trail")
    events = AuditEvent.all() if actor.apps is None else AuditEvent.filter(app_id__in=actor.apps)
    if search is None:
        return events
    if search.app_id is not None:
        events = events.filter(app_id=ids.require(search.app_id, "app", ("appId",)))
    if search.actor_id is not None:
        kind = ids.prefix_of(search.actor_id)
        if kind not in ("usr", "key"):
            raise InvalidInput(
                f"actorId {search.actor_id[:40]!r} is neither a person's id (usr_…) nor an "
                "API key's (key_…)",
                ("actorId",),
            )
        column = "user_id" if kind == "usr" else "key_id"
        events = events.filter(**{column: search.actor_id})
    if search.action is not None and search.action.strip():
        reject_text(search.action, ("action",))
        events = events.filter(action__startswith=search.action.strip()[:ACTION_MAX])
    if search.since is not None:
        events = events.filter(created_at__gte=utc(search.since, ("since",)))
    if search.until is not None:
        events = events.filter(created_at__lt=utc(search.until, ("until",)))
    return events
