"""Licensed apps and their licences, made with the domain functions as the console does."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from ferryman import auth
from ferryman.models import License
from ferryman.models import app as apps
from ferryman.models import license as licenses
from ferryman.models.actor import Actor
from ferryman.models.status import Distribution, ExpiredPolicy

DAY = timedelta(days=1)
CONSOLE = Actor.console()


async def licensed_app(
    slug: str, policy: ExpiredPolicy = ExpiredPolicy.MAINTAIN, grace_days: int = 0
) -> apps.App:
    """The app ``slug`` (created when missing), made LICENSED with this policy."""
    app = await apps.App.get_or_none(slug=slug) or await apps.create(
        CONSOLE, apps.AppChanges(slug=slug, name=slug)
    )
    changes = apps.AppChanges(
        distribution=Distribution.LICENSED, expired_policy=policy, grace_days=grace_days
    )
    return await apps.update(CONSOLE, app.id, changes)


async def new_license(
    app: apps.App, now: datetime, periods: Iterable[tuple[int, int]] = ((30, -335),)
) -> tuple[str, License]:
    """A licence of ``app`` with these periods (days before ``now``); returns its key."""
    minted = auth.mint(auth.LICENSE_PREFIX)
    (first_start, first_end), *renewals = periods
    new = licenses.NewLicense(
        minted.key_hash,
        minted.prefix,
        "ACME",
        now - first_start * DAY,
        now - first_end * DAY,
    )
    license = await licenses.create(CONSOLE, app.id, new)
    for start, end in renewals:
        license = await licenses.renew(CONSOLE, license.id, now - start * DAY, now - end * DAY)
    return minted.secret, license


async def lapsed_licence(app_id: str) -> str:
    """Make the app LICENSED with one licence that lapsed 35 days ago; returns its key."""
    app = await apps.update(CONSOLE, app_id, apps.AppChanges(distribution=Distribution.LICENSED))
    key, _ = await new_license(app, datetime.now(UTC), [(400, 35)])
    return key
