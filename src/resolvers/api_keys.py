"""API keys in the GraphQL API: the calling key (viewer), listing, minting, revoking."""

from __future__ import annotations

from datetime import datetime
from typing import Self

import strawberry

from ferryman import auth, models
from ferryman.models import api_key as api_keys
from ferryman.models.actor import KeyScope
from ferryman.models.errors import DomainError, Forbidden
from ferryman.resolvers.apps import App
from ferryman.resolvers.context import Info
from ferryman.resolvers.errors import Payload, UserErrors
from ferryman.resolvers.node import Node
from ferryman.resolvers.pagination import Connection, paginate

strawberry.enum(KeyScope, name="ApiKeyScope")


@strawberry.type(description="A key for the API; its secret was shown once, at creation.")
class ApiKey(Node):
    name: str
    scope: KeyScope
    prefix: str = strawberry.field(description="The first characters of the secret.")
    last_used_at: datetime | None = strawberry.field(description="Updated at most once a minute.")
    created_at: datetime
    revoked_at: datetime | None
    app_id: strawberry.Private[str | None]

    @classmethod
    def from_model(cls, key: models.ApiKey) -> Self:
        return cls(
            id=strawberry.ID(key.id),
            name=key.name,
            scope=key.scope,
            prefix=key.prefix,
            last_used_at=key.last_used_at,
            created_at=key.created_at,
            revoked_at=key.revoked_at,
            app_id=key.app_id,
        )

    @strawberry.field(description="The app the key is limited to; null means every app.")
    async def app(self, info: Info) -> App | None:
        return await _app(info, self.app_id)


@strawberry.type(description="The key making this request.")
class Viewer:
    id: strawberry.ID
    name: str
    scope: KeyScope
    app_id: strawberry.Private[str | None]

    @strawberry.field(description="The app the key is limited to; null means every app.")
    async def app(self, info: Info) -> App | None:
        return await _app(info, self.app_id)


@strawberry.input
class ApiKeyCreateInput:
    name: str = strawberry.field(description="What the key is for, e.g. 'GitHub Actions'.")
    scope: KeyScope
    app_id: strawberry.ID | None = strawberry.field(
        default=None, description="Limit the key to one app; omit for every app."
    )


@strawberry.type
class ApiKeyCreatePayload(Payload):
    api_key: ApiKey | None = None
    secret: str | None = strawberry.field(
        default=None, description="The key itself. Shown only in this response: store it now."
    )


@strawberry.type
class ApiKeyRevokePayload(Payload):
    api_key: ApiKey | None = None


async def get_node(info: Info, node_id: str) -> ApiKey | None:
    try:
        return ApiKey.from_model(await api_keys.get_visible(info.context.actor, node_id))
    except (DomainError, Forbidden):
        return None


@strawberry.type
class ApiKeyQuery:
    @strawberry.field(description="The key making this request.")
    async def viewer(self, info: Info) -> Viewer:
        actor = info.context.actor
        assert actor.key_id is not None
        key = await info.context.loaders.api_key.load(actor.key_id)
        assert key is not None
        return Viewer(id=strawberry.ID(key.id), name=key.name, scope=key.scope, app_id=key.app_id)

    @strawberry.field(description="API keys, newest first (admin keys only).")
    async def api_keys(
        self,
        info: Info,
        app_id: strawberry.ID | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[ApiKey]:
        keys = api_keys.visible(info.context.actor, app_id)
        return await paginate(
            keys, first, after, ApiKey.from_model, max_page=info.context.max_page_size
        )


@strawberry.type
class ApiKeyMutation:
    @strawberry.mutation(
        extensions=[UserErrors()], description="Mint a key; the payload carries its secret once."
    )
    async def api_key_create(self, info: Info, input: ApiKeyCreateInput) -> ApiKeyCreatePayload:
        minted = auth.mint()
        new = api_keys.NewKey(
            name=input.name,
            scope=input.scope,
            app_id=input.app_id,
            key_hash=minted.key_hash,
            prefix=minted.prefix,
        )
        key = await api_keys.create(info.context.actor, new)
        return ApiKeyCreatePayload(api_key=ApiKey.from_model(key), secret=minted.secret)

    @strawberry.mutation(extensions=[UserErrors()], description="Refuse a key from now on.")
    async def api_key_revoke(self, info: Info, id: strawberry.ID) -> ApiKeyRevokePayload:
        key = await api_keys.revoke(info.context.actor, id)
        return ApiKeyRevokePayload(api_key=ApiKey.from_model(key))


async def _app(info: Info, app_id: str | None) -> App | None:
    if app_id is None:
        return None
    app = await info.context.loaders.app.load(app_id)
    return App.from_model(app) if app else None
