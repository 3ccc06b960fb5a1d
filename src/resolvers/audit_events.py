"""The audit trail in the GraphQL API (admin keys only)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Self

import strawberry

from ferryman import models
from ferryman.models import audit_event as audit_events
from ferryman.models.errors import Forbidden
from ferryman.resolvers.api_keys import ApiKey
from ferryman.resolvers.apps import App
from ferryman.resolvers.context import Info
from ferryman.resolvers.node import Node
from ferryman.resolvers.pagination import Connection, paginate


@strawberry.type(description="One change: who made it, to what, and when.")
class AuditEvent(Node):
    action: str = strawberry.field(description="e.g. app.create or release.publish.")
    target_id: strawberry.ID = strawberry.field(description="The id of the changed object.")
    summary: str
    request_id: str | None = strawberry.field(description="The X-Request-ID of the change.")
    created_at: datetime
    key_id: strawberry.ID | None = strawberry.field(
        description="The key that made the change; null for a person or the server console."
    )
    user_id: strawberry.ID | None = strawberry.field(
        description="The person who made the change in the web console, if one did."
    )
    app_id: strawberry.ID | None

    @classmethod
    def from_model(cls, event: models.AuditEvent) -> Self:
        return cls(
            id=strawberry.ID(event.id),
            action=event.action,
            target_id=strawberry.ID(event.target_id),
            summary=event.summary,
            request_id=event.request_id,
            created_at=event.created_at,
            key_id=None if event.key_id is None else strawberry.ID(event.key_id),
            user_id=None if event.user_id is None else strawberry.ID(event.user_id),
            app_id=None if event.app_id is None else strawberry.ID(event.app_id),
        )

    @strawberry.field(description="The key, while it exists (deleted with its app).")
    async def key(self, info: Info) -> ApiKey | None:
        if self.key_id is None:
            return None
        key = await info.context.loaders.api_key.load(self.key_id)
        return ApiKey.from_model(key) if key else None

    @strawberry.field(description="The app, while it exists.")
    async def app(self, info: Info) -> App | None:
        if self.app_id is None:
            return None
        app = await info.context.loaders.app.load(self.app_id)
        return App.from_model(app) if app else None


async def get_node(info: Info, node_id: str) -> AuditEvent | None:
    try:
        events = audit_events.visible(info.context.actor)
    except Forbidden:
        return None
    event = await events.get_or_none(id=node_id)
    return AuditEvent.from_model(event) if event else None


@strawberry.type
class AuditEventQuery:
    @strawberry.field(description="The audit trail, newest first (admin keys only).")
    async def audit_events(
        self,
        info: Info,
        app_id: strawberry.ID | None = None,
        actor_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="Only the changes of this person or key."),
        ] = None,
        action: Annotated[
            str | None,
            strawberry.argument(
                description='An action, or the start of one ("license." for every licence change).'
            ),
        ] = None,
        since: Annotated[
            datetime | None, strawberry.argument(description="Only changes at or after this.")
        ] = None,
        until: Annotated[
            datetime | None, strawberry.argument(description="Only changes before this.")
        ] = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[AuditEvent]:
        search = audit_events.AuditSearch(app_id, actor_id, action, since, until)
        events = audit_events.visible(info.context.actor, search)
        return await paginate(
            events, first, after, AuditEvent.from_model, max_page=info.context.max_page_size
        )
