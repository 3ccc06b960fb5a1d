"""Licences: who may update a LICENSED app, and which of its releases they paid for.

A licence belongs to one app. Its key (``lk_…``) is shown once and stored as a hash,
like an API key; how a key looks is ``auth``'s business. What it covers is the list of
its coverage periods, judged by :mod:`ferryman.models.coverage`.

Changing a licence's status or periods bumps its app's generation, so every worker
drops the licence as it remembered it (within a second), and the next check sees the
change.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.exceptions import IntegrityError
from tortoise.expressions import Subquery
from tortoise.models import Model
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from ferryman.models import app as apps
from ferryman.models import audit_event, ids
from ferryman.models import generation as generations
from ferryman.models import notification as notifications
from ferryman.models.actor import Actor
from ferryman.models.errors import (
    DomainError,
    InvalidBatch,
    InvalidInput,
    InvalidState,
    NotFound,
    Taken,
)
from ferryman.models.ids import MAX_LENGTH, new_id
from ferryman.models.moment import utc
from ferryman.models.status import LicenseStatus
from ferryman.models.text import reject_nul, reject_text
from ferryman.models.webhook import Event

if TYPE_CHECKING:
    from ferryman.models.app import App

CUSTOMER_MAX = 200
REASON_MAX = 500
MAX_PERIOD = timedelta(days=100 * 366)
# A licence that expired while no worker ran is still announced this long after; one
# that expired before (when notifications were first set up, say) never is.
EXPIRED_NOTICE = timedelta(days=7)


class License(Model):
    id = fields.CharField(primary_key=True, max_length=MAX_LENGTH)
    app: fields.ForeignKeyRelation[App] = fields.ForeignKeyField(
        "models.App", related_name="licenses", on_delete=fields.CASCADE
    )
    key_hash = fields.CharField(max_length=64, unique=True)
    prefix = fields.CharField(max_length=16)
    customer = fields.CharField(max_length=CUSTOMER_MAX, null=True)
    status = fields.CharEnumField(LicenseStatus, max_length=16, default=LicenseStatus.ACTIVE)
    status_reason = fields.TextField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    app_id: str
    periods: fields.ReverseRelation[CoveragePeriod]

    class Meta:
        table = "licenses"
        indexes = (("app_id", "id"),)


class CoveragePeriod(Model):
    id = fields.CharField(primary_key=True, max_length=MAX_LENGTH)
    license: fields.ForeignKeyRelation[License] = fields.ForeignKeyField(
        "models.License", related_name="periods", on_delete=fields.CASCADE
    )
    starts_at = fields.DatetimeField()
    ends_at = fields.DatetimeField()

    license_id: str

    class Meta:
        table = "license_periods"
        indexes = (("license_id", "starts_at"),)


@dataclasses.dataclass(frozen=True, slots=True)
class NewLicense:
    """A licence to create: the hash and prefix ``auth`` derived from its key, and its
    first period (None: from now, and a year after the start)."""

    key_hash: str
    prefix: str
    customer: str | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Held:
    """A licence as the updater needs it: who holds it, its status, and its periods."""

    license_id: str
    prefix: str
    status: LicenseStatus
    periods: tuple[tuple[datetime, datetime], ...]

    @property
    def refused(self) -> str | None:
        """Why its checks are refused (403), or None for an active licence."""
        if self.status is LicenseStatus.ACTIVE:
            return None
        return f"licence {self.prefix}… is {self.status.value.lower()}"


@dataclasses.dataclass(frozen=True, slots=True)
class LicenseSearch:
    """Which of an app's licences to list; None leaves a criterion out. A licence
    expires at the end of its latest period."""

    customer: str | None = None  # a part of the customer's name, in any case
    status: LicenseStatus | None = None
    expires_after: datetime | None = None
    expires_before: datetime | None = None  # at or before


def require_manager(actor: Actor, action: str = "managing licences") -> None:
    """Issuing licences and changing them: for admins."""
    actor.require_admin(action)


def visible(actor: Actor, app_id: str, search: LicenseSearch | None = None) -> QuerySet[License]:
    """An app's licences that match ``search``, newest first (admins only)."""
    actor.require_reader("listing licences")
    if not actor.sees(app_id):
        return License.filter(id__in=[])
    found = License.filter(app_id=app_id).order_by("-id")
    if search is None:
        return found
    if search.customer is not None:
        reject_text(search.customer, ("customer",))
        if len(search.customer) > CUSTOMER_MAX:
            raise InvalidInput(f"customer is longer than {CUSTOMER_MAX} characters", ("customer",))
        if search.customer.strip():
            found = found.filter(customer__icontains=search.customer.strip())
    if search.status is not None:
        found = found.filter(status=search.status)
    if search.expires_after is not None:
        after = utc(search.expires_after, ("expiresAfter",))
        found = found.filter(id__in=_ending_after(after))
    if search.expires_before is not None:
        before = utc(search.expires_before, ("expiresBefore",))
        found = found.exclude(id__in=_ending_after(before))
    return found


async def announce_expiries(now: datetime, ahead: timedelta) -> int:
    """Announce licences expiring within ``ahead`` (``license.expiring``) and those
    that expired lately (``license.expired``); returns how many were announced now.

    Every worker runs this now and then; each licence is announced once per event and
    end (a renewal gives it a new end, so the next expiry is announced again), the
    message's dedupe key making sure of it when two workers find it at once. Revoked
    licences are refused for good whatever their end, so they are left out.
    """
    announced = 0
    for event, after, until in (
        (Event.LICENSE_EXPIRING, now, now + ahead),
        (Event.LICENSE_EXPIRED, now - EXPIRED_NOTICE, now),
    ):
        ending = await _ending_between(after, until)
        done = await notifications.announced([_once(event, *found) for found in ending])
        for license, end in ending:
            key = _once(event, license, end)
            if key in done:
                continue
            data = {
                "app": notifications.about_app(license.app),
                "license": {
                    "id": license.id,
                    "prefix": license.prefix,
                    "customer": license.customer,
                    "expires_at": notifications.iso(end),
                    "status": license.status.value,
                },
            }
            if await notifications.emit_once(event, license.app_id, data, key):
                announced += 1
    return announced


async def _ending_between(after: datetime, until: datetime) -> list[tuple[License, datetime]]:
    """Licences (but revoked ones) whose latest period ends after ``after`` and at or
    before ``until``, with their apps and that end."""
    found = (
        await License.filter(id__in=_ending_after(after))
        .exclude(id__in=_ending_after(until))
        .exclude(status=LicenseStatus.REVOKED)
        .prefetch_related("app")
    )
    periods = await periods_of([license.id for license in found])
    return [(license, max(p.ends_at for p in periods[license.id])) for license in found]


def _once(event: Event, license: License, end: datetime) -> str:
    """The dedupe key of an expiry: one message per event, licence and end."""
    return f"{event.value}:{license.id}:{notifications.iso(end)}"


def _ending_after(moment: datetime) -> Subquery:
    """The ids of licences with a period that ends after ``moment``."""
    return Subquery(CoveragePeriod.filter(ends_at__gt=moment).values("license_id"))


async def get_visible(actor: Actor, license_id: str, field: tuple[str, ...] = ("id",)) -> License:
    actor.require_reader("reading a licence")
    license = await License.get_or_none(id=ids.require(license_id, "lic", field))
    if license is None or not actor.sees(license.app_id):
        raise NotFound(f"licence {license_id} not found", field)
    return license


async def periods_of(license_ids: list[str]) -> dict[str, list[CoveragePeriod]]:
    """Each licence's periods, oldest first, in one query."""
    found: dict[str, list[CoveragePeriod]] = {license_id: [] for license_id in license_ids}
    for period in await CoveragePeriod.filter(license_id__in=license_ids).order_by("starts_at"):
        found[period.license_id].append(period)
    return found


async def find(app_id: str, key_hash: str) -> Held | None:
    """The licence with this key hash, when it is one of this app's; two queries."""
    license = await License.get_or_none(key_hash=key_hash, app_id=app_id)
    if license is None:
        return None
    periods = await CoveragePeriod.filter(license_id=license.id).order_by("starts_at")
    return Held(
        license.id,
        license.prefix,
        license.status,
        tuple((p.starts_at, p.ends_at) for p in periods),
    )


async def create(actor: Actor, app_id: str, new: NewLicense) -> License:
    """Create one licence with its first period."""
    created = await create_many(actor, app_id, [new], ("input",))
    return created[0]


async def create_many(
    actor: Actor, app_id: str, batch: list[NewLicense], field: tuple[str, ...]
) -> list[License]:
    """Create licences in one transaction: all of them, or none when one is invalid.

    A bulk import names each failing row in its error's field (``[field, row]``), all of
    them at once (:class:`InvalidBatch`) when several fail.
    """
    require_manager(actor, "creating licences")
    app = await apps.get_visible(actor, app_id, (*field, "appId"))
    if not batch:
        raise InvalidInput("there are no licences to create", field)
    now = datetime.now(UTC)
    rows: list[tuple[License, CoveragePeriod]] = []
    errors: list[DomainError] = []
    for number, new in enumerate(batch):
        where = field if len(batch) == 1 else (*field, str(number))
        try:
            customer = _validated_customer(new.customer, (*where, "customer"))
            starts_at, ends_at = _validated_period(new.starts_at, new.ends_at, now, where)
        except DomainError as error:
            errors.append(error)
            continue
        license = License(
            id=new_id("lic"),
            app_id=app.id,
            key_hash=new.key_hash,
            prefix=new.prefix,
            customer=customer,
        )
        period = CoveragePeriod(
            id=new_id("per"), license_id=license.id, starts_at=starts_at, ends_at=ends_at
        )
        rows.append((license, period))
    if errors:
        raise errors[0] if len(errors) == 1 else InvalidBatch(errors)
    try:
        async with in_transaction():
            await License.bulk_create([license for license, _ in rows])
            await CoveragePeriod.bulk_create([period for _, period in rows])
            summary = (
                f"created licence {rows[0][0].prefix}… for {_who(rows[0][0])}"
                if len(rows) == 1
                else f"imported {len(rows)} licences"
            )
            action = "license.create" if len(rows) == 1 else "license.import"
            await audit_event.record(actor, action, rows[0][0].id, app.id, summary)
    except IntegrityError:
        raise Taken("a licence with this key already exists", (*field, "key")) from None
    return [license for license, _ in rows]


async def renew(
    actor: Actor, license_id: str, starts_at: datetime | None, ends_at: datetime | None
) -> License:
    """Add a period. By default it continues the last one, or starts now after a lapse
    (leaving the gap uncovered); it may not overlap an earlier period."""
    require_manager(actor, "renewing a licence")
    license = await get_visible(actor, license_id)
    now = datetime.now(UTC)
    async with in_transaction():
        locked = await _locked(license.id)
        if locked.status is LicenseStatus.REVOKED:
            raise InvalidState(
                f"licence {locked.prefix}… is revoked; create a new licence instead", ("id",)
            )
        last = await CoveragePeriod.filter(license_id=locked.id).order_by("-ends_at").first()
        latest_end = last.ends_at if last is not None else None
        if starts_at is None and latest_end is not None:
            starts_at = latest_end if latest_end >= now else now
        start, end = _validated_period(starts_at, ends_at, now, ())
        if latest_end is not None and start < latest_end:
            raise InvalidInput(
                f"the new period would overlap the last one, which ends at "
                f"{latest_end.isoformat()}: start it then or later",
                ("startsAt",),
            )
        await CoveragePeriod.create(
            id=new_id("per"), license_id=locked.id, starts_at=start, ends_at=end
        )
        await License.filter(id=locked.id).update(updated_at=now)
        await apps.bump_generation(locked.app_id)
        await audit_event.record(
            actor,
            "license.renew",
            locked.id,
            locked.app_id,
            f"renewed licence {locked.prefix}… from {start.date()} to {end.date()}",
        )
    await _announce(locked)
    return await License.get(id=locked.id)


async def suspend(actor: Actor, license_id: str, reason: str | None) -> License:
    """Refuse the licence (403) until it is reactivated."""
    return await _set_status(actor, license_id, LicenseStatus.SUSPENDED, reason)


async def reactivate(actor: Actor, license_id: str) -> License:
    """Lift a suspension."""
    return await _set_status(actor, license_id, LicenseStatus.ACTIVE, None)


async def revoke(actor: Actor, license_id: str, reason: str | None) -> License:
    """Refuse the licence (403) for good."""
    return await _set_status(actor, license_id, LicenseStatus.REVOKED, reason)


_VERBS = {
    LicenseStatus.SUSPENDED: "suspend",
    LicenseStatus.ACTIVE: "reactivate",
    LicenseStatus.REVOKED: "revoke",
}


async def _set_status(
    actor: Actor, license_id: str, target: LicenseStatus, reason: str | None
) -> License:
    require_manager(actor, "changing a licence's status")
    license = await get_visible(actor, license_id)
    reject_nul(reason, ("reason",))
    if reason is not None and len(reason) > REASON_MAX:
        raise InvalidInput(f"reason is longer than {REASON_MAX} characters", ("reason",))
    verb = _VERBS[target]
    async with in_transaction():
        locked = await _locked(license.id)
        if locked.status is target:
            return locked
        if locked.status is LicenseStatus.REVOKED:
            raise InvalidState(f"licence {locked.prefix}… is revoked for good", ("id",))
        if target is LicenseStatus.ACTIVE and locked.status is not LicenseStatus.SUSPENDED:
            raise InvalidState(f"licence {locked.prefix}… is not suspended", ("id",))
        await License.filter(id=locked.id).update(
            status=target, status_reason=reason or None, updated_at=datetime.now(UTC)
        )
        await apps.bump_generation(locked.app_id)
        await audit_event.record(
            actor,
            f"license.{verb}",
            locked.id,
            locked.app_id,
            f"{verb}d licence {locked.prefix}… of {_who(locked)}"
            + (f": {reason}" if reason else ""),
        )
    await _announce(locked)
    return await License.get(id=locked.id)


async def _locked(license_id: str) -> License:
    license = await License.select_for_update().get_or_none(id=license_id)
    if license is None:
        raise NotFound(f"licence {license_id} not found", ("id",))
    return license


async def _announce(license: License) -> None:
    app = await apps.App.get(id=license.app_id)
    generations.announce(app.slug)


def _who(license: License) -> str:
    return repr(license.customer) if license.customer else "no named customer"


def _validated_customer(customer: str | None, field: tuple[str, ...]) -> str | None:
    reject_nul(customer, field)
    if customer is None:
        return None
    name = customer.strip()
    if len(name) > CUSTOMER_MAX:
        raise InvalidInput(f"customer is longer than {CUSTOMER_MAX} characters", field)
    return name or None


def _validated_period(
    starts_at: datetime | None, ends_at: datetime | None, now: datetime, field: tuple[str, ...]
) -> tuple[datetime, datetime]:
    start = utc(starts_at, (*field, "startsAt")) if starts_at is not None else now
    end = utc(ends_at, (*field, "endsAt")) if ends_at is not None else _a_year_after(start)
    if end <= start:
        raise InvalidInput(
            f"endsAt ({end.isoformat()}) must be later than startsAt ({start.isoformat()})",
            (*field, "endsAt"),
        )
    if end - start > MAX_PERIOD:
        raise InvalidInput("a period may last at most 100 years", (*field, "endsAt"))
    return start, end


def _a_year_after(start: datetime) -> datetime:
    try:
        return start.replace(year=start.year + 1)
    except ValueError:  # 29 February
        return start.replace(year=start.year + 1, day=28)
