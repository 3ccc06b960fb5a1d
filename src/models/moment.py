"""Times that people type: read as UTC, and kept within years every database and clock
handles (a year-1 time with an offset cannot even be converted to UTC)."""

from __future__ import annotations

from datetime import UTC, datetime

from ferryman.models.errors import InvalidInput

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


def utc(moment: datetime, field: tuple[str, ...]) -> datetime:
    """``moment`` in UTC (a time without a zone is taken as UTC), or InvalidInput."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        moment = moment.astimezone(UTC)
    except OverflowError:
        moment = EARLIEST.replace(year=1) if moment.year < 1970 else LATEST.replace(year=9999)
    if not EARLIEST <= moment <= LATEST:
        raise InvalidInput(
            f"{field[-1]} must lie between {EARLIEST.date()} and {LATEST.date()}, "
            f"got {moment.date()}",
            field,
        )
    return moment
