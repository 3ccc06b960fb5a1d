"""Licences from a CSV file (``ferryman licenses import``), and the keys CSV it writes.

Reading checks the whole file before anything is written, so every bad line is named by
its line number and column instead of leaving half a customer list imported; the rules
that need the database (the app, periods, names) are the models', and their errors are
translated back to lines and columns here. The CLI reads a file, the console an upload or
pasted text; both go through :func:`parse` and ``license.create_many``.
"""

from __future__ import annotations

import csv
import dataclasses
import io
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


@dataclasses.dataclass(frozen=True, slots=True)
class Problem:
    """What is wrong with one line of the file (``line`` None: with the file as a whole),
    told as ``line 3, column ends_at: ...``."""

    line: int | None
    text: str

    def __str__(self) -> str:
        return self.text


class BadFile(Exception):
    """The file cannot be imported; it names every bad line, with its column and what fits."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        super().__init__("\n".join(f"{source}: {problem}" for problem in problems))
        self.problems = problems


@dataclasses.dataclass(frozen=True, slots=True)
class Row:
    """One licence to create: its line in the file, its key (kept or minted) and values."""

    line: int
    key: str
    minted: bool
    new: licenses.NewLicense


class _BadLine(Exception):
    def __init__(self, line: int | None, text: str) -> None:
        super().__init__(text)
        self.problem = Problem(line, text)


def read(path: Path) -> list[Row]:
    """Every licence in the file, with a key for each; BadFile naming every bad line."""
    return parse(str(path), decode(str(path), path.read_bytes()))


def decode(source: str, data: bytes) -> str:
    """The file's text; BadFile when it is not UTF-8."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BadFile(source, [Problem(None, "is not UTF-8 text; save it as CSV UTF-8")]) from None


def parse(source: str, text: str) -> list[Row]:
    """Every licence in ``text`` (a CSV file named ``source``), with a key for each;
    BadFile naming every bad line."""
    reader = csv.reader(io.StringIO(text, newline=""))
    problems: list[Problem] = []
    rows: list[Row] = []
    try:
        header = [name.strip().lower() for name in next(reader, [])]
        _check_header(header)
        seen: dict[str, int] = {}
        for values in reader:
            if not any(value.strip() for value in values):
                continue  # blank lines, and spreadsheets' trailing empty rows
            try:
                row = _row(reader.line_num, header, values, seen)
            except _BadLine as bad:
                problems.append(bad.problem)
                continue
            seen[row.key] = row.line
            rows.append(row)
    except csv.Error as error:
        problems.append(
            Problem(reader.line_num, f"line {reader.line_num}: not valid CSV ({error})")
        )
    except _BadLine as bad:
        problems.append(bad.problem)
    if problems:
        raise BadFile(source, problems)
    if not rows:
        raise BadFile(source, [Problem(None, "has a header but no licences: nothing to import")])
    return rows


def _check_header(header: list[str]) -> None:
    where = "line 1 (the header)"
    if not header:
        raise _BadLine(1, f"the first line must be the header; {_ACCEPTED}")
    for name in header:
        if name not in (*COLUMNS, KEY):
            raise _BadLine(1, f"{where}: unknown column {name[:40]!r}; {_ACCEPTED}")
        if header.count(name) > 1:
            raise _BadLine(1, f"{where}: column {name!r} appears twice; {_ACCEPTED}")
    missing = [name for name in COLUMNS if name not in header]
    if missing:
        raise _BadLine(1, f"{where}: no column {', '.join(missing)}; {_ACCEPTED}")


def _row(line: int, header: list[str], values: list[str], seen: dict[str, int]) -> Row:
    where = f"line {line}"
    if len(values) != len(header):
        raise _BadLine(
            line,
            f"{where} has {len(values)} fields but the header has {len(header)} "
            "(quote a value that contains a comma)",
        )
    named = dict(zip(header, values, strict=True))
    given = named.get(KEY, "").strip()
    if given and not auth.LICENSE_PATTERN.fullmatch(given):
        raise _BadLine(
            line,
            f"{where}, column key: not a licence key; keys are {auth.LICENSE_PREFIX} followed "
            "by 32 to 120 letters and digits (leave it empty to mint a new one)",
        )
    if given in seen:
        raise _BadLine(
            line,
            f"{where}, column key: the same key as line {seen[given]}; every licence needs a "
            "key of its own",
        )
    key = auth.existing(given, auth.LICENSE_PREFIX) if given else auth.mint(auth.LICENSE_PREFIX)
    new = licenses.NewLicense(
        key_hash=key.key_hash,
        prefix=key.prefix,
        customer=named["customer"],
        starts_at=_moment(line, "starts_at", named["starts_at"]),
        ends_at=_moment(line, "ends_at", named["ends_at"]),
    )
    return Row(line=line, key=key.secret, minted=not given, new=new)


def _moment(line: int, column: str, text: str) -> datetime | None:
    if not text.strip():
        return None
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        raise _BadLine(
            line, f"line {line}, column {column}: {text[:40]!r} is not a date; {_MOMENT_RULE}"
        ) from None


async def check_unused(source: str, rows: list[Row]) -> None:
    """BadFile naming every line whose key another licence already has."""
    hashes = {row.new.key_hash: row for row in rows}
    taken = dict(await License.filter(key_hash__in=list(hashes)).values_list("key_hash", "id"))
    problems = [
        Problem(
            row.line,
            f"line {row.line}, column key: this key already belongs to licence "
            f"{taken[key_hash]}; every licence needs a key of its own",
        )
        for key_hash, row in hashes.items()
        if key_hash in taken
    ]
    if problems:
        raise BadFile(source, problems)


def explain(source: str, error: DomainError, rows: list[Row]) -> BadFile:
    """The rules' refusal of rows, told as the lines and columns of the file."""
    return BadFile(source, [_explained(each, rows) for each in error.each()])


def _explained(error: DomainError, rows: list[Row]) -> Problem:
    # create_many names a row of a batch as (FIELD, index, name), the only one as (FIELD, name).
    rest = list(error.field or ())[1:]
    row = rows[0] if len(rows) == 1 else None
    if rest and rest[0].isdigit():
        row = rows[int(rest.pop(0))]
    where = f"line {row.line}" if row else ""
    column = _RENAMED.get(rest[0], rest[0]) if rest else None
    if row and column in (*COLUMNS, KEY):
        where += f", column {column}"
    message = error.message
    for name, renamed in _RENAMED.items():
        message = message.replace(name, renamed)
    return Problem(row.line if row else None, f"{where}: {message}" if where else message)


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
        raise BadFile("--output", [Problem(None, f"cannot write to the folder {folder}")])
    if path.exists() and (path.is_dir() or not os.access(path, os.W_OK)):
        raise BadFile("--output", [Problem(None, f"cannot write to {path}")])


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
