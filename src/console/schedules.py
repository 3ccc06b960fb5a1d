"""A release's rollout schedule in the console: what the release page shows of it (its steps,
when each is due and was reached, running, paused or finished), the badge the release list
gives a scheduled release, and the forms that start, pause, resume and cancel one. Each form
calls the domain operation GraphQL calls (``models/ramp.py``); only reading what was typed
is done here."""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime

from starlette.datastructures import FormData

from ferryman.console.pages import text
from ferryman.console.sessions import Visitor
from ferryman.models import ids
from ferryman.models import ramp as ramps
from ferryman.models.api_key import ApiKey
from ferryman.models.app import App
from ferryman.models.errors import InvalidInput
from ferryman.models.release import Release
from ferryman.models.user import User

# A custom step as typed: "5 2026-12-07T09:00Z", also "5% at 2026-12-07 09:00".
STEP_FORMAT = "percent and time (UTC unless it has a zone), such as 5 2026-12-07T09:00Z"
# The domain's field names, as the start form names its fields (schedule-<name>).
FIELDS = {f: "steps" for f in ("steps", "percent", "notBefore")} | {
    "start": "start",
    "reason": "reason",
}
MINUTE, HOUR, DAY = 60, 3600, 86400
PHASED = ramps.RampPreset.PHASED.value
# What the phased preset does, as its choice on the form says it.
PHASED_WORDS = f"{', '.join(map(str, ramps.PHASED_PERCENTS))}% a day apart"


@dataclasses.dataclass(frozen=True, slots=True)
class StepRow:
    position: int
    percent: int
    not_before: datetime
    due_in: str  # "in 3 h", "2 d 1 h ago"
    due: bool  # its time has come
    reached_at: datetime | None
    is_next: bool


@dataclasses.dataclass(frozen=True, slots=True)
class ScheduleView:
    """A schedule as the release page shows it."""

    rows: list[StepRow]
    reached: int
    state: str  # "running", "paused" or "finished"
    next_step: StepRow | None
    paused_at: datetime | None
    paused_for: str  # how long ago it was paused
    paused_by: str  # who paused it, in words
    pause_reason: str


async def view(release: Release, now: datetime) -> ScheduleView | None:
    """The release's schedule as the page shows it, or None when it has none."""
    schedule = await ramps.read(release.id)
    if schedule is None:
        return None
    ramp = schedule.ramp
    rows = [
        StepRow(
            step.position,
            step.percent,
            step.not_before,
            relative(step.not_before, now),
            step.not_before <= now,
            step.reached_at,
            step.position == schedule.reached + 1,
        )
        for step in schedule.steps
    ]
    paused_at = ramp.paused_at
    state = "finished" if schedule.finished else "paused" if paused_at else "running"
    return ScheduleView(
        rows=rows,
        reached=schedule.reached,
        state=state,
        next_step=None if schedule.finished else rows[schedule.reached],
        paused_at=paused_at,
        paused_for=relative(paused_at, now) if paused_at else "",
        paused_by=await _who(ramp.paused_by) if paused_at else "",
        pause_reason=ramp.pause_reason or "",
    )


async def badges(page: list[Release]) -> dict[str, str]:
    """A word on the schedule of each release of a list page that has one, read in one go
    (never a query per row): "scheduled: step 2 of 7 (5%)", "paused: …"."""
    schedules = await ramps.read_many([release.id for release in page])
    shown = {}
    for release in page:
        schedule = schedules.get(release.id)
        if schedule is None:
            continue
        state = (
            "schedule finished"
            if schedule.finished
            else "paused"
            if schedule.ramp.paused_at is not None
            else "scheduled"
        )
        where = f"step {schedule.reached} of {len(schedule.steps)}"
        shown[release.id] = f"{state}: {where} ({release.rollout_percent}%)"
    return shown


def relative(moment: datetime, now: datetime) -> str:
    """How far ``moment`` is from ``now``, in words a glance reads: "in 3 h 20 min",
    "1 d 4 h ago", "just now"."""
    seconds = int((moment - now).total_seconds())
    span = abs(seconds)
    if span < MINUTE:
        return "in under a minute" if seconds > 0 else "just now"
    days, rest = divmod(span, DAY)
    hours, rest = divmod(rest, HOUR)
    minutes = rest // MINUTE
    if days:
        words = f"{days} d {hours} h" if hours else f"{days} d"
    elif hours:
        words = f"{hours} h {minutes} min" if minutes else f"{hours} h"
    else:
        words = f"{minutes} min"
    return f"in {words}" if seconds > 0 else f"{words} ago"


def typed_steps(typed: str) -> tuple[list[ramps.Step], list[int]]:
    """The custom steps typed one a line, and the line each came from; InvalidInput naming
    the line that is not a percent and a time. Blank lines are skipped."""
    steps: list[ramps.Step] = []
    lines: list[int] = []
    for number, line in enumerate(typed.splitlines(), start=1):
        words = line.replace("%", " % ").split()
        if not words:
            continue
        field = ("steps", str(len(steps)))
        percent, rest = words[0], [w for w in words[1:] if w not in ("%", "at")]
        if not percent.isdigit() or len(percent) > 3:
            raise InvalidInput(
                f"line {number}: {percent[:20]!r} is not a whole percent; each line is a "
                f"{STEP_FORMAT}",
                (*field, "percent"),
            )
        when = " ".join(rest)
        try:
            moment = datetime.fromisoformat(when)
        except ValueError:
            shown = f"{when[:40]!r} is not a time" if when else "the time is missing"
            raise InvalidInput(
                f"line {number}: {shown}; each line is a {STEP_FORMAT}",
                (*field, "notBefore"),
            ) from None
        steps.append(ramps.Step(int(percent), moment))
        lines.append(number)
    return steps, lines


def typed_moment(typed: str, field: str) -> datetime | None:
    """A time field as typed (None when empty); the domain reads it as UTC without a zone."""
    typed = typed.strip()
    if not typed:
        return None
    try:
        return datetime.fromisoformat(typed)
    except ValueError:
        raise InvalidInput(
            f"{typed[:40]!r} is not a time: use YYYY-MM-DD HH:MM (UTC), such as "
            "2026-12-07 09:00, or leave it empty for now",
            (field,),
        ) from None


async def start(visitor: Visitor, app: App, release: Release, form: FormData) -> object:
    """Start (or replace) the schedule the form describes: the phased preset from an
    optional start, or the custom steps; the domain's complaint about a step names its
    line."""
    phased = text(form, "schedule-kind") == PHASED
    typed = text(form, "schedule-steps")
    steps, lines = typed_steps(typed)
    start_at = typed_moment(text(form, "schedule-start"), "start")
    reason = text(form, "schedule-reason").strip() or None
    try:
        return await ramps.schedule(
            visitor.actor,
            release.id,
            steps=steps if steps or not phased else None,
            preset=ramps.RampPreset.PHASED if phased else None,
            start=start_at,
            reason=reason,
        )
    except InvalidInput as error:
        field = error.field or ()
        if len(field) > 1 and field[0] == "steps" and field[1].isdigit():
            line = lines[int(field[1])]
            raise InvalidInput(f"line {line}: {_in_words(error.message)}", field) from None
        raise


async def pause(visitor: Visitor, app: App, release: Release, form: FormData) -> object:
    return await ramps.pause(visitor.actor, release.id, text(form, "pause-reason"))


async def resume(visitor: Visitor, app: App, release: Release, form: FormData) -> object:
    return await ramps.resume(visitor.actor, release.id)


async def cancel(visitor: Visitor, app: App, release: Release, form: FormData) -> object:
    return await ramps.cancel(visitor.actor, release.id)


def _in_words(message: str) -> str:
    """A step's message with the API's names for its parts ("steps[1].percent") as words."""
    return re.sub(
        r"^(steps\[\d+\]\.)?(percent|notBefore)\b",
        lambda found: "the percent" if found[2] == "percent" else "the time",
        message,
    )


async def _who(name: str | None) -> str:
    """Who paused a schedule, in words: a person's email, a key's name, or the server's
    command line or job."""
    if not name:
        return "someone"
    kind = ids.prefix_of(name)
    if kind == "usr":
        email = await User.filter(id=name).values_list("email", flat=True)
        return str(email[0]) if email else f"a removed person ({name})"
    if kind == "key":
        key = await ApiKey.get_or_none(id=name)
        return f"key {key.name}" if key else f"a deleted key ({name})"
    return f"the server ({name})"
