"""Apps in the GraphQL API: the App type, its queries and its mutations."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Self

import strawberry

from ferryman import models
from ferryman.models import app as apps
from ferryman.models import channel as channels
from ferryman.models import license as licenses
from ferryman.models import listing
from ferryman.models.errors import DomainError
from ferryman.models.status import Distribution, ExpiredPolicy, LicenseStatus, ReleaseStatus
from ferryman.resolvers.context import Info
from ferryman.resolvers.errors import Payload, QueryLimitError, UserErrors
from ferryman.resolvers.node import Node
from ferryman.resolvers.pagination import Connection, paginate
from ferryman.resolvers.stats import Adoption, StatsSeries, app_adoption, app_stats
from ferryman.versions import InvalidVersion, Version

if TYPE_CHECKING:
    from ferryman.resolvers.licenses import License
    from ferryman.resolvers.releases import Release
    from ferryman.resolvers.signing_keys import SigningKey

strawberry.enum(Distribution, name="Distribution")
strawberry.enum(ExpiredPolicy, name="ExpiredPolicy")
_Release = Annotated["Release", strawberry.lazy("ferryman.resolvers.releases")]
_License = Annotated["License", strawberry.lazy("ferryman.resolvers.licenses")]
_SigningKey = Annotated["SigningKey", strawberry.lazy("ferryman.resolvers.signing_keys")]


@strawberry.type(description="A desktop app whose updates this server delivers.")
class App(Node):
    slug: str = strawberry.field(description="The app's path segment in its updater URL.")
    name: str
    description: str | None
    public_key: str | None = strawberry.field(
        description=(
            "The Tauri updater public key (content of the .pub file) new releases are signed "
            "with; once the app moves between keys, the one its newest published bridge ships."
        )
    )
    ci_may_publish: bool = strawberry.field(
        description="Whether CI keys may publish releases of this app (off by default)."
    )
    channels: list[str] = strawberry.field(
        description="Release channels, the most stable first. An install on a channel is "
        "offered that channel's releases and every more stable one's; new releases go to the "
        "first unless they name another."
    )
    distribution: Distribution = strawberry.field(
        description="OPEN: anyone may update. LICENSED: the updater must send a licence key."
    )
    expired_policy: ExpiredPolicy = strawberry.field(
        description="What a LICENSED app's lapsed licence still receives."
    )
    grace_days: int = strawberry.field(
        description="Days after a licence's last period ends before it counts as lapsed."
    )
    offer_downgrade_on_yank: bool = strawberry.field(
        description="Whether installs on a yanked release are offered the newest one below it."
    )
    require_signed_version: bool = strawberry.field(
        description=(
            "Mirrors the updater's requireSignedVersion: artifacts whose signature names no "
            "version are refused, as the app's installs would refuse them."
        )
    )
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_model(cls, app: models.App) -> Self:
        return cls(
            id=strawberry.ID(app.id),
            slug=app.slug,
            name=app.name,
            description=app.description,
            public_key=app.public_key,
            ci_may_publish=app.ci_may_publish,
            channels=list(channels.order_of(app.channels)),
            distribution=app.distribution,
            expired_policy=app.expired_policy,
            grace_days=app.grace_days,
            offer_downgrade_on_yank=app.offer_downgrade_on_yank,
            require_signed_version=app.require_signed_version,
            created_at=app.created_at,
            updated_at=app.updated_at,
        )

    @strawberry.field(description="Releases in any status.")
    async def release_count(self, info: Info) -> int:
        return await info.context.loaders.release_count.load(self.id)

    @strawberry.field(description="The highest published version, in the updater's order.")
    async def latest_version(self, info: Info) -> str | None:
        return await info.context.loaders.latest_version.load(self.id)

    @strawberry.field(description="Releases, newest first.")
    async def releases(
        self,
        info: Info,
        status: ReleaseStatus | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[_Release]:
        from ferryman.resolvers.releases import Release

        rows = listing.listed(self.id, listing.ReleaseFilter(status=status))
        return await paginate(
            rows, first, after, Release.from_model, max_page=info.context.max_page_size
        )

    @strawberry.field(description="One release of this app by its version.")
    async def release(self, version: str) -> _Release | None:
        from ferryman.resolvers.releases import Release

        try:
            canonical = str(Version.parse(version))
        except InvalidVersion as error:
            raise QueryLimitError(str(error)) from None
        row = await models.Release.get_or_none(app_id=self.id, version=canonical)
        return Release.from_model(row) if row else None

    @strawberry.field(description="Licences, newest first (admin keys only).")
    async def licenses(
        self,
        info: Info,
        customer: Annotated[
            str | None, strawberry.argument(description="A part of the customer, in any case.")
        ] = None,
        status: LicenseStatus | None = None,
        expires_after: Annotated[
            datetime | None,
            strawberry.argument(description="Only those whose latest period ends after this."),
        ] = None,
        expires_before: Annotated[
            datetime | None,
            strawberry.argument(description="Only those whose latest period ends by this."),
        ] = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[_License]:
        from ferryman.resolvers.licenses import License

        search = licenses.LicenseSearch(customer, status, expires_after, expires_before)
        rows = licenses.visible(info.context.actor, self.id, search)
        return await paginate(
            rows, first, after, License.from_model, max_page=info.context.max_page_size
        )

    @strawberry.field(
        description=(
            "Its signing keys, the first first: empty until a second key is added "
            "(appSigningKeyAdd); until then publicKey is its one key."
        )
    )
    async def signing_keys(self) -> list[_SigningKey]:
        from ferryman.resolvers.signing_keys import app_signing_keys

        return await app_signing_keys(self.id)

    stats: StatsSeries = strawberry.field(
        resolver=app_stats, description="A measure of the app's installs over time."
    )
    adoption: Adoption = strawberry.field(
        resolver=app_adoption,
        description="Each day's active installs by version, and each version's share of them.",
    )


@strawberry.input
class AppCreateInput:
    slug: str
    name: str
    description: str | None = None
    public_key: str | None = None
    ci_may_publish: bool | None = None
    channels: list[str] | None = strawberry.field(
        default=None, description="Default: stable, beta, alpha, nightly."
    )
    distribution: Distribution | None = strawberry.field(default=None, description="Default: OPEN.")
    expired_policy: ExpiredPolicy | None = strawberry.field(
        default=None, description="Default: MAINTAIN."
    )
    grace_days: int | None = strawberry.field(
        default=None, description=f"0 to {apps.GRACE_DAYS_MAX}; default 0."
    )
    offer_downgrade_on_yank: bool | None = strawberry.field(
        default=None, description="Default: false."
    )
    require_signed_version: bool | None = strawberry.field(
        default=None, description="Default: false; set it when the app sets requireSignedVersion."
    )


@strawberry.input(description="Fields to change; omitted fields keep their value.")
class AppUpdateInput:
    slug: str | None = None
    name: str | None = None
    description: str | None = None
    public_key: str | None = None
    ci_may_publish: bool | None = None
    channels: list[str] | None = strawberry.field(
        default=None, description="A channel that releases are on cannot be left out."
    )
    distribution: Distribution | None = None
    expired_policy: ExpiredPolicy | None = None
    grace_days: int | None = strawberry.field(
        default=None, description=f"0 to {apps.GRACE_DAYS_MAX}."
    )
    offer_downgrade_on_yank: bool | None = None
    require_signed_version: bool | None = None


@strawberry.type
class AppCreatePayload(Payload):
    app: App | None = None


@strawberry.type
class AppUpdatePayload(Payload):
    app: App | None = None


@strawberry.type
class AppDeletePayload(Payload):
    deleted_app_id: strawberry.ID | None = None


async def get_node(info: Info, node_id: str) -> App | None:
    try:
        return App.from_model(await apps.get_visible(info.context.actor, node_id))
    except DomainError:
        return None


@strawberry.type
class AppQuery:
    @strawberry.field(description="Apps the calling key may see, newest first.")
    async def apps(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[App]:
        return await paginate(
            apps.visible(info.context.actor),
            first,
            after,
            App.from_model,
            max_page=info.context.max_page_size,
        )

    @strawberry.field(description="One app, by id or by slug.")
    async def app(
        self, info: Info, id: strawberry.ID | None = None, slug: str | None = None
    ) -> App | None:
        if (id is None) == (slug is None):
            raise QueryLimitError("give exactly one of id or slug")
        if id is not None:
            return await get_node(info, id)
        row = await apps.find_visible(info.context.actor, slug or "")
        return App.from_model(row) if row else None


@strawberry.type
class AppMutation:
    @strawberry.mutation(extensions=[UserErrors()], description="Register a new app.")
    async def app_create(self, info: Info, input: AppCreateInput) -> AppCreatePayload:
        app = await apps.create(info.context.actor, _changes(input))
        return AppCreatePayload(app=App.from_model(app))

    @strawberry.mutation(extensions=[UserErrors()])
    async def app_update(
        self, info: Info, id: strawberry.ID, input: AppUpdateInput
    ) -> AppUpdatePayload:
        app = await apps.update(info.context.actor, id, _changes(input))
        return AppUpdatePayload(app=App.from_model(app))

    @strawberry.mutation(
        extensions=[UserErrors()],
        description="Delete an app with everything in it; refused while a release is published.",
    )
    async def app_delete(self, info: Info, id: strawberry.ID) -> AppDeletePayload:
        deleted = await apps.delete(info.context.actor, id)
        return AppDeletePayload(deleted_app_id=strawberry.ID(deleted))


def _changes(input: AppCreateInput | AppUpdateInput) -> apps.AppChanges:
    return apps.AppChanges(
        slug=input.slug,
        name=input.name,
        description=input.description,
        public_key=input.public_key,
        ci_may_publish=input.ci_may_publish,
        channels=input.channels,
        distribution=input.distribution,
        expired_policy=input.expired_policy,
        grace_days=input.grace_days,
        offer_downgrade_on_yank=input.offer_downgrade_on_yank,
        require_signed_version=input.require_signed_version,
    )
