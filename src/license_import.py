"""Licences from a CSV file (``ferryman licenses import``), and the keys CSV it writes.

Reading checks the whole file before anything is written, so a bad line is named by its
line number and column instead of leaving half a customer list imported; the rules that
need the database (the app, periods, names) are the models', and their errors are
translated back to lines and columns here.
"""

from __future__ import annotations

import csv
import dataclasses
import os
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import TextIO

from ferryman import auth
from ferryman.models import License
from ferryman.models import license as licenses
from ferryman.models.errors import DomainError

COLUMNS = ("customer", "starts_at", "ends_at")
KEY = "key"
OUTPUT_COLUMNS = ("id", "customer", "key", "starts_at", "ends_at")
# Where create_many's errors point (its ``field`` argument), and the rules' names for the
# columns whose names differ.
FIELD = "rows"
_RENAMED = {"startsAt": "starts_at", "endsAt": "ends_at"}
_ACCEPTED = "the header names the columns customer, starts_at and ends_at, and optionally key"
_MOMENT_RULE = (
    "use an ISO 8601 date or date-time such as 2025-03-01 or 2025-03-01T09:30:00Z (UTC unless "
    "it names an offset), or leave it empty for the default"
)


class BadFile(Exception):
    """The file cannot be imported; the message names the line and column and what fits."""


@dataclasses.dataclass(frozen=True, slots=True)
class Row:
    """One licence to create: its line in the file, its key (kept or minted) and values."""

    line: int
    key: str
    minted: bool
    new: licenses.NewLicense


def read(path: Path) -> list[Row]:
    """Every licence in the file, with a key for each; BadFile for the first bad line."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as file:
            return _rows(path, file)
    except UnicodeDecodeError:
        raise BadFile(f"{path}: is not UTF-8 text; save it as CSV UTF-8") from None


def _rows(path: Path, file: TextIO) -> list[Row]:
    reader = csv.reader(file)
    try:
        header = [name.strip().lower() for name in next(reader, [])]
        if not header:
            raise BadFile(f"{path}: the first line must be the header; {_ACCEPTED}")
        _check_header(path, header)
        rows: list[Row] = []
        seen: dict[str, int] = {}
        for values in reader:
            if not any(value.strip() for value in values):
                continue  # blank lines, and spreadsheets' trailing empty rows
            where = f"{path}: line {reader.line_num}"
            if len(values) != len(header):
                raise BadFile(
                    f"{where} has {len(values)} fields but the header has {len(header)} "
                    "(quote a value that contains a comma)"
                )
            row = _row(where, reader.line_num, dict(zip(header, values, strict=True)))
            if row.key in seen:
                raise BadFile(
                    f"{where}, column key: the same key as line {seen[row.key]}; every "
                    "licence needs a key of its own"
                )
            seen[row.key] = row.line
            rows.append(row)
    except csv.Error as error:
        raise BadFile(f"{path}: line {reader.line_num}: not valid CSV ({error})") from None
    if not rows:
        raise BadFile(f"{path}: has a header but no licences: nothing to import")
    return rows


def _check_header(path: Path, header: list[str]) -> None:
    where = f"{path}: line 1 (the header)"
    for name in header:
        if name not in (*COLUMNS, KEY):
            raise BadFile(f"{where}: unknown column {name[:40]!r}; {_ACCEPTED}")
        if header.count(name) > 1:
            raise BadFile(f"{where}: column {name!r} appears twice; {_ACCEPTED}")
    missing = [name for name in COLUMNS if name not in header]
    if missing:
        raise BadFile(f"{where}: no column {', '.join(missing)}; {_ACCEPTED}")


def _row(where: str, line: int, values: dict[str, str]) -> Row:
    given = values.get(KEY, "").strip()
    if given and not auth.LICENSE_PATTERN.fullmatch(given):
        raise BadFile(
            f"{where}, column key: not a licence key; keys are {auth.LICENSE_PREFIX} followed "
            "by 32 to 120 letters and digits (leave it empty to mint a new one)"
        )
    key = auth.existing(given, auth.LICENSE_PREFIX) if given else auth.mint(auth.LICENSE_PREFIX)
    new = licenses.NewLicense(
        key_hash=key.key_hash,
        prefix=key.prefix,
        customer=values["customer"],
        starts_at=_moment(where, "starts_at", values["starts_at"]),
        ends_at=_moment(where, "ends_at", values["ends_at"]),
    )
    return Row(line=line, key=key.secret, minted=not given, new=new)


def _moment(where: str, column: str, text: str) -> datetime | None:
    if not text.strip():
        return None
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        raise BadFile(
            f"{where}, column {column}: {text[:40]!r} is not a date; {_MOMENT_RULE}"
        ) from None


async def check_unused(path: Path, rows: list[Row]) -> None:
    """BadFile naming the first line whose key another licence already has."""
    hashes = {row.new.key_hash: row for row in rows}
    for license in await License.filter(key_hash__in=list(hashes)).order_by("id"):
        row = hashes[license.key_hash]
        raise BadFile(
            f"{path}: line {row.line}, column key: this key already belongs to licence "
            f"{license.id}; every licence needs a key of its own"
        )


def explain(path: Path, error: DomainError, rows: list[Row]) -> str:
    """A rule's refusal of one row, told as the line and column of the file."""
    # create_many names a row of a batch as (FIELD, index, name), the only one as (FIELD, name).
    rest = list(error.field or ())[1:]
    row = rows[0] if len(rows) == 1 else None
    if rest and rest[0].isdigit():
        row = rows[int(rest.pop(0))]
    where = f"{path}: line {row.line}" if row else str(path)
    column = _RENAMED.get(rest[0], rest[0]) if rest else None
    if column in (*COLUMNS, KEY):
        where += f", column {column}"
    message = error.message
    for name, renamed in _RENAMED.items():
        message = message.replace(name, renamed)
    return f"{where}: {message}"


def write(
    out: TextIO,
    rows: Iterable[Row],
    created: list[License],
    periods: dict[str, list[licenses.CoveragePeriod]],
) -> None:
    """The keys CSV: one line per licence, in the order of the imported file."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(OUTPUT_COLUMNS)
    for row, license in zip(rows, created, strict=True):
        (period,) = periods[license.id]
        writer.writerow(
            [
                license.id,
                license.customer or "",
                row.key,
                period.starts_at.isoformat(),
                period.ends_at.isoformat(),
            ]
        )


def check_writable(path: Path) -> None:
    """BadFile when the keys file cannot be written: checked before importing, because
    keys minted for a file that cannot be written would be lost."""
    folder = path.parent
    if not folder.is_dir() or not os.access(folder, os.W_OK):
        raise BadFile(f"--output: cannot write to the folder {folder}")
    if path.exists() and (path.is_dir() or not os.access(path, os.W_OK)):
        raise BadFile(f"--output: cannot write to {path}")


def save(
    path: Path,
    rows: Iterable[Row],
    created: list[License],
    periods: dict[str, list[licenses.CoveragePeriod]],
) -> None:
    """The keys CSV in ``path``; a new file is readable by its owner only."""
    with open(path, "w", newline="", encoding="utf-8", opener=_owner_only) as file:
        write(file, rows, created, periods)


def _owner_only(path: str, flags: int) -> int:
    return os.open(path, flags, 0o600)
