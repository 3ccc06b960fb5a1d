"""Charts drawn on the server, for inline SVG: the shapes are worked out here and the
templates (``charts.html``) only place them. No script draws them, so they read without
JavaScript, and the CSP (no inline style) holds: every shape is placed by its attributes
and coloured by a class of the stylesheet.

A chart's units are its data's: a bucket is 1 wide and the plot 100 high, and the SVG is
stretched to the width of the page (the axes' labels are HTML beside it, so their text
keeps its size on a phone).
"""

from __future__ import annotations

import dataclasses
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import date, timedelta

from ferryman.analytics.series import Adoption, Dimension, Series
from ferryman.models.usage import OTHER_VERSION
from ferryman.versions import parse_stored

# Versions a stacked chart draws apart; the rest share one band. The stylesheet has a
# colour for each (tone-0 to tone-5) and one for the rest (tone-other).
TOP_VERSIONS = 6
OTHER = "other"
HEIGHT = 100


@dataclasses.dataclass(frozen=True, slots=True)
class Band:
    """One version's area of a stacked chart, and its share of each day's installs."""

    label: str
    tone: str
    path: str
    shares: tuple[float, ...]


@dataclasses.dataclass(frozen=True, slots=True)
class Stack:
    """Each day's installs split by version, as bands stacked to 100 %: the oldest
    version at the bottom, the newest at the top (the rest, ``other``, below them all)."""

    days: tuple[date, ...]
    installs: tuple[int, ...]
    bands: tuple[Band, ...]

    @property
    def legend(self) -> tuple[Band, ...]:
        """The bands as they are seen, top to bottom: newest first."""
        return self.bands[::-1]

    def rows(self) -> list[tuple[date, int, tuple[float, ...]]]:
        """Each day's installs and the legend's shares, for the table beside the chart."""
        legend = self.legend
        return [
            (day, installs, tuple(band.shares[n] for band in legend))
            for n, (day, installs) in enumerate(zip(self.days, self.installs, strict=True))
        ]

    def summary(self) -> str:
        """The chart in a sentence: the shares of the last day that had installs."""
        counted = [n for n, installs in enumerate(self.installs) if installs]
        if not counted:
            return "No installs were counted in these days."
        last = counted[-1]
        shares = ", ".join(
            f"{band.label} {band.shares[last]:.0%}" for band in self.legend if band.shares[last]
        )
        return f"On {self.days[last].isoformat()}: {shares}."


@dataclasses.dataclass(frozen=True, slots=True)
class Bar:
    start: date
    value: int
    x: float
    y: float
    height: float


@dataclasses.dataclass(frozen=True, slots=True)
class Bars:
    """A bar a bucket, scaled so that the tallest reaches ``top``."""

    bars: tuple[Bar, ...]
    top: int

    @property
    def width(self) -> int:
        return len(self.bars)

    @property
    def ticks(self) -> tuple[str, str, str]:
        """The labels of the top, the middle and the foot of the scale."""
        middle = f"{self.top // 2:,}" if self.top % 2 == 0 else f"{self.top / 2:,}"
        return f"{self.top:,}", middle, "0"


@dataclasses.dataclass(frozen=True, slots=True)
class Part:
    """One label's count over a whole range, and its share of the range's."""

    label: str
    count: int
    share: float


def stacked(adoption: Adoption, top: int = TOP_VERSIONS) -> Stack:
    """The adoption's ``top`` versions with the most installs over its days (the newer of
    two as many), each a band; the other versions (and versions the app never released)
    together as ``other``."""
    days = tuple(_days(adoption.start, adoption.end))
    column = {day: n for n, day in enumerate(days)}
    totals: Counter[str] = Counter()
    for point in adoption.points:
        totals[point.version] += point.installs
    released = sorted((v for v in totals if v != OTHER_VERSION), key=_release_order, reverse=True)
    ranked = sorted(released, key=lambda v: -totals[v])  # the newer first among equals
    kept = sorted(ranked[:top], key=_release_order)
    shares: defaultdict[str, list[float]] = defaultdict(lambda: [0.0] * len(days))
    installs = [0] * len(days)
    for point in adoption.points:
        label = point.version if point.version in kept else OTHER
        shares[label][column[point.day]] += point.share
        installs[column[point.day]] += point.installs
    tones = {OTHER: "tone-other"} | {version: f"tone-{n}" for n, version in enumerate(kept)}
    labels = ([OTHER] if OTHER in shares else []) + kept
    bands = []
    below = [0.0] * len(days)
    for label in labels:
        above = [low + share for low, share in zip(below, shares[label], strict=True)]
        bands.append(Band(label, tones[label], _band_path(below, above), tuple(shares[label])))
        below = above
    return Stack(days, tuple(installs), tuple(bands))


def bars(series: Series) -> Bars:
    """A series without a breakdown (one point a bucket) as bars, on a scale up to a
    round number (the next multiple of half the tallest's power of ten)."""
    top = _round_up(max((point.value for point in series.points), default=0))
    drawn = []
    for n, point in enumerate(series.points):
        height = _rounded(HEIGHT * point.value / top)
        drawn.append(Bar(point.start, point.value, n + 0.15, _rounded(HEIGHT - height), height))
    return Bars(tuple(drawn), top)


def parts(series: Series, dimension: Dimension) -> list[Part]:
    """A series broken down by ``dimension``, summed over its range: each label's count
    and share, the largest first."""
    counts: Counter[str] = Counter()
    for point in series.points:
        counts[str(point.label(dimension))] += point.value
    total = sum(counts.values())
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [Part(label, count, count / total) for label, count in ordered if count]


def _band_path(below: list[float], above: list[float]) -> str:
    """The outline of a band between two stacks of shares: a step a day along its top,
    back along its bottom."""
    top = [(x, above[d]) for d in range(len(above)) for x in (d, d + 1)]
    bottom = [(x, below[d]) for d in reversed(range(len(below))) for x in (d + 1, d)]
    points = [f"{x},{_rounded(HEIGHT * (1 - share))}" for x, share in top + bottom]
    return "M" + " L".join(points) + " Z"


def _round_up(value: int) -> int:
    power: int = 10 ** (len(str(value)) - 1)
    unit = max(1, power // 2)
    return max(1, -(-value // unit) * unit)


def _rounded(value: float) -> float:
    return round(value, 3) + 0.0  # never -0.0


def _release_order(version: str) -> tuple[int, object]:
    parsed = parse_stored(version)
    return (0, parsed) if parsed is not None else (1, version)


def _days(start: date, end: date) -> Iterable[date]:
    return (start + timedelta(days=n) for n in range((end - start).days + 1))
