"""Licences in the GraphQL API: the License type and its lifecycle mutations (admins only).

The rules (periods, overlaps, what a revoked licence may still do) live in
``models/license.py``; this module translates, and shows a new key exactly once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Self

import strawberry

from ferryman import auth, models
from ferryman.models import license as licenses
from ferryman.models.errors import DomainError, Forbidden
from ferryman.models.status import LicenseStatus
from ferryman.resolvers.apps import App
from ferryman.resolvers.context import Info
from ferryman.resolvers.errors import Payload, UserErrors
from ferryman.resolvers.node import Node

strawberry.enum(LicenseStatus, name="LicenseStatus")


@strawberry.type(description="A span of time a licence paid for, ends included.")
class CoveragePeriod:
    starts_at: datetime
    ends_at: datetime


@strawberry.type(
    description="A licence to update one LICENSED app; its key was shown once, at creation. "
    "It covers the releases dated in its periods, and those from before its first one."
)
class License(Node):
    prefix: str = strawberry.field(description="The first characters of the key.")
    customer: str | None
    status: LicenseStatus
    status_reason: str | None = strawberry.field(
        description="Why it was suspended or revoked, when the admin said."
    )
    created_at: datetime
    updated_at: datetime
    app_id: strawberry.Private[str]

    @classmethod
    def from_model(cls, license: models.License) -> Self:
        return cls(
            id=strawberry.ID(license.id),
            prefix=license.prefix,
            customer=license.customer,
            status=license.status,
            status_reason=license.status_reason,
            created_at=license.created_at,
            updated_at=license.updated_at,
            app_id=license.app_id,
        )

    @strawberry.field(description="Its periods, oldest first; a gap between two is uncovered.")
    async def periods(self, info: Info) -> list[CoveragePeriod]:
        rows = await info.context.loaders.periods.load(self.id)
        return [CoveragePeriod(starts_at=p.starts_at, ends_at=p.ends_at) for p in rows]

    @strawberry.field(description="The end of its latest period; null when it has none.")
    async def expires_at(self, info: Info) -> datetime | None:
        rows = await info.context.loaders.periods.load(self.id)
        return max((p.ends_at for p in rows), default=None)

    @strawberry.field
    async def app(self, info: Info) -> App:
        app = await info.context.loaders.app.load(self.app_id)
        assert app is not None
        return App.from_model(app)


@strawberry.input
class LicenseCreateInput:
    app_id: strawberry.ID
    customer: str | None = strawberry.field(
        default=None,
        description=f"Who holds it, as you name them (at most {licenses.CUSTOMER_MAX} characters).",
    )
    starts_at: datetime | None = strawberry.field(default=None, description="Default: now.")
    ends_at: datetime | None = strawberry.field(
        default=None, description="Default: a year after startsAt."
    )


@strawberry.type
class LicenseCreatePayload(Payload):
    license: License | None = None
    key: str | None = strawberry.field(
        default=None,
        description="The licence key (lk_…) for the app to send. Shown only in this "
        "response: hand it to the customer now.",
    )


@strawberry.type
class LicenseRenewPayload(Payload):
    license: License | None = None


@strawberry.type
class LicenseSuspendPayload(Payload):
    license: License | None = None


@strawberry.type
class LicenseReactivatePayload(Payload):
    license: License | None = None


@strawberry.type
class LicenseRevokePayload(Payload):
    license: License | None = None


async def get_node(info: Info, node_id: str) -> License | None:
    try:
        return License.from_model(await licenses.get_visible(info.context.actor, node_id))
    except (DomainError, Forbidden):
        return None


@strawberry.type
class LicenseMutation:
    @strawberry.mutation(
        extensions=[UserErrors()],
        description="Issue a licence with its first period; the payload carries its key once.",
    )
    async def license_create(self, info: Info, input: LicenseCreateInput) -> LicenseCreatePayload:
        minted = auth.mint(auth.LICENSE_PREFIX)
        new = licenses.NewLicense(
            key_hash=minted.key_hash,
            prefix=minted.prefix,
            customer=input.customer,
            starts_at=input.starts_at,
            ends_at=input.ends_at,
        )
        license = await licenses.create(info.context.actor, input.app_id, new)
        return LicenseCreatePayload(license=License.from_model(license), key=minted.secret)

    @strawberry.mutation(
        extensions=[UserErrors()],
        description="Add a period: by default it continues the last one, or starts now after "
        "a lapse (the gap stays uncovered). It may not overlap an earlier period.",
    )
    async def license_renew(
        self,
        info: Info,
        id: strawberry.ID,
        starts_at: Annotated[
            datetime | None,
            strawberry.argument(
                description="Default: the end of the last period, or now when it has passed."
            ),
        ] = None,
        ends_at: Annotated[
            datetime | None, strawberry.argument(description="Default: a year after startsAt.")
        ] = None,
    ) -> LicenseRenewPayload:
        license = await licenses.renew(info.context.actor, id, starts_at, ends_at)
        return LicenseRenewPayload(license=License.from_model(license))

    @strawberry.mutation(
        extensions=[UserErrors()], description="Refuse the licence's updates until reactivated."
    )
    async def license_suspend(
        self, info: Info, id: strawberry.ID, reason: str | None = None
    ) -> LicenseSuspendPayload:
        license = await licenses.suspend(info.context.actor, id, reason)
        return LicenseSuspendPayload(license=License.from_model(license))

    @strawberry.mutation(extensions=[UserErrors()], description="Lift a suspension.")
    async def license_reactivate(self, info: Info, id: strawberry.ID) -> LicenseReactivatePayload:
        license = await licenses.reactivate(info.context.actor, id)
        return LicenseReactivatePayload(license=License.from_model(license))

    @strawberry.mutation(
        extensions=[UserErrors()],
        description="Refuse the licence's updates for good; it cannot be reactivated or renewed.",
    )
    async def license_revoke(
        self, info: Info, id: strawberry.ID, reason: str | None = None
    ) -> LicenseRevokePayload:
        license = await licenses.revoke(info.context.actor, id, reason)
        return LicenseRevokePayload(license=License.from_model(license))
