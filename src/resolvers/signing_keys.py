"""Signing keys in the GraphQL API: an app's keys, the bridge releases between them, and
how many installs still trust each key (so a team knows when to retire one)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Self

import strawberry

from ferryman import models
from ferryman.analytics.series import Source
from ferryman.models import rotation
from ferryman.models import signing_key as signing_keys
from ferryman.models.errors import DomainError
from ferryman.models.signing_key import KeyState
from ferryman.resolvers.context import Info
from ferryman.resolvers.errors import Payload, UserErrors
from ferryman.resolvers.node import Node
from ferryman.resolvers.scalars import Count

if TYPE_CHECKING:
    from ferryman.resolvers.releases import Release

_Release = Annotated["Release", strawberry.lazy("ferryman.resolvers.releases")]

strawberry.enum(
    KeyState,
    name="SigningKeyState",
    description=(
        "NEXT: no published bridge leads to it yet, so releases signed with it cannot be "
        "published. ACTIVE: installs trust it. RETIRED: uploads signed with it are refused; "
        "what it signed stays offered to installs that trust it."
    ),
)


@strawberry.type(description="Installs that checked for updates on one day, by what they trust.")
class KeyInstalls:
    day: date = strawberry.field(description="The last whole UTC day.")
    installs: Count = strawberry.field(
        description="Active installs that day whose version trusts this key."
    )
    source: Source


@strawberry.type(description="One of an app's updater public keys.")
class SigningKey(Node):
    key_id: str = strawberry.field(description="The key's id, as the Tauri CLI prints it.")
    public_key: str = strawberry.field(description="The content of its .pub file.")
    state: KeyState
    created_at: datetime
    retired_at: datetime | None
    app_id: strawberry.Private[str]

    @classmethod
    def from_model(cls, key: signing_keys.SigningKey) -> Self:
        return cls(
            id=strawberry.ID(key.id),
            key_id=key.key_id,
            public_key=key.public_key,
            state=key.state,
            created_at=key.created_at,
            retired_at=key.retired_at,
            app_id=key.app_id,
        )

    @strawberry.field(description="The releases marked as the bridge to this key, oldest first.")
    async def bridges(self) -> list[_Release]:
        from ferryman.resolvers.releases import Release

        rows = await models.Release.filter(bridge_to_id=self.id).order_by("id")
        return [Release.from_model(release) for release in rows]

    @strawberry.field(
        description=(
            "How many active installs still trust this key, from the app's analytics "
            "(yesterday's update checks): once none do, it can be retired."
        )
    )
    async def active_installs(self) -> KeyInstalls:
        yesterday = datetime.now(UTC).date() - timedelta(days=1)
        trusting = await rotation.installs_trusting(self.app_id, self.key_id, yesterday)
        return KeyInstalls(
            day=trusting.day, installs=Count(trusting.installs), source=trusting.source
        )


@strawberry.type
class SigningKeyPayload(Payload):
    signing_key: SigningKey | None = None


@strawberry.type
class ReleaseBridgeSetPayload(Payload):
    release: _Release | None = None


async def get_node(info: Info, node_id: str) -> SigningKey | None:
    try:
        return SigningKey.from_model(await rotation.get_visible(info.context.actor, node_id))
    except DomainError:
        return None


async def app_signing_keys(app_id: str) -> list[SigningKey]:
    return [SigningKey.from_model(key) for key in await signing_keys.rows(app_id)]


@strawberry.type
class SigningKeyMutation:
    @strawberry.mutation(
        extensions=[UserErrors()],
        description=(
            "Add the key the app moves to (NEXT). Sign a release with the key installs trust "
            "now, ship the new key inside it, mark it with releaseBridgeSet, publish it: from "
            "then on releases signed with the new key are published and offered to installs "
            "that crossed it."
        ),
    )
    async def app_signing_key_add(
        self,
        info: Info,
        app_id: strawberry.ID,
        public_key: Annotated[
            str, strawberry.argument(description="The content of the new key's .pub file.")
        ],
    ) -> SigningKeyPayload:
        key = await rotation.add(info.context.actor, app_id, public_key)
        return SigningKeyPayload(signing_key=SigningKey.from_model(key))

    @strawberry.mutation(
        extensions=[UserErrors()],
        description=(
            "Sign no more with a key (admin): uploads signed with it are refused; what it "
            "signed stays offered. Refused for the key new releases are signed with."
        ),
    )
    async def app_signing_key_retire(self, info: Info, id: strawberry.ID) -> SigningKeyPayload:
        key = await rotation.retire(info.context.actor, id)
        return SigningKeyPayload(signing_key=SigningKey.from_model(key))

    @strawberry.mutation(
        extensions=[UserErrors()],
        description=(
            "Mark the release as the bridge to a key (null: as none): it is signed with the "
            "key installs below it trust and ships the new one. A published release can be "
            "marked once it is signed so, but stays a bridge."
        ),
    )
    async def release_bridge_set(
        self,
        info: Info,
        id: strawberry.ID,
        signing_key_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="The key it ships; null: it is no bridge."),
        ],
    ) -> ReleaseBridgeSetPayload:
        from ferryman.resolvers.releases import Release

        release = await rotation.set_bridge(info.context.actor, id, signing_key_id)
        return ReleaseBridgeSetPayload(release=Release.from_model(release))
