"""Collection gaps derived from the raw rows: feed-wide silences, quiet symbols, missed swing polls.

Definitions are in docs/derive-gaps.md. Everything is computed in SQL (window functions over one
day's rows); each call makes the derived gaps of one day and scope equal to what the data says,
writing only rows that changed, so re-running a day is cheap and keeps ``computed_at`` of the rest.
Archived gaps (the collector's own ledger) are never touched. Call order within a day matters:
feed gaps first, because a symbol gap's reason asks whether a feed gap overlaps it. Feed gaps are
cross-symbol: they are read once per day (:func:`read_feed_gaps`) and handed to the per-symbol
statements as arrays, never joined into them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import pairwise
from typing import Any

import psycopg

from obsdb.derive.common import Changes, Day, DeriveSettings, counted, load_sql, sorted_list, transaction_time


@dataclass(frozen=True)
class FeedGaps:
    """Time ranges [start, end) as two parallel lists (how statements take them), in time order."""

    starts: list[datetime] = field(default_factory=list)
    ends: list[datetime] = field(default_factory=list)

    def ranges(self) -> list[tuple[datetime, datetime]]:
        return list(zip(self.starts, self.ends, strict=True))

    @classmethod
    def of(cls, ranges: Iterable[tuple[datetime, datetime]]) -> FeedGaps:
        pairs = sorted(ranges)
        return cls([a for a, _ in pairs], [b for _, b in pairs])

    def merged(self) -> FeedGaps:
        """Their union as disjoint ranges: coverage counts a silent second once, however many gaps
        cover it (what range_agg did)."""
        return FeedGaps.of(_union(self.ranges()))


def read_feed_gaps(conn: psycopg.Connection[Any], day: Day) -> FeedGaps:
    """The derived feed gaps overlapping ``day``, as they are in the table now."""
    row = conn.execute(load_sql("gaps_feed_read"), day.params()).fetchone()
    assert row is not None  # an aggregate-only SELECT always answers one row
    return FeedGaps(list(row[0]), list(row[1]))


def _union(ranges: Iterable[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    merged: list[tuple[datetime, datetime]] = []
    for lo, hi in sorted(r for r in ranges if r[1] > r[0]):
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
        else:
            merged.append((lo, hi))
    return merged


def changed_stretches(old: FeedGaps, new: FeedGaps) -> FeedGaps:
    """Where the union of ``old`` differs from the union of ``new`` (their symmetric difference):
    the only instants whose coverage, or whose "was the feed alive?", can have changed."""
    a, b = _union(old.ranges()), _union(new.ranges())
    points = sorted({t for r in a + b for t in r})

    def inside(ranges: list[tuple[datetime, datetime]], t: datetime) -> bool:
        return any(lo <= t < hi for lo, hi in ranges)

    pieces = [(p, q) for p, q in pairwise(points) if inside(a, p) != inside(b, p)]
    return FeedGaps.of(_union(pieces))


def _threshold(scope: str, value: float) -> float:
    if not value > 0:
        raise ValueError(f"{scope} gap threshold must be positive, got {value!r}")
    return value


def feed_gaps(conn: psycopg.Connection[Any], day: Day, settings: DeriveSettings) -> Changes:
    """Silences of the whole feed (symbol '*', scope 'feed') in the session of ``day``."""
    return counted(conn, "gaps_feed", day.params(
        threshold=_threshold("feed", settings.feed_gap_seconds), now=transaction_time(conn)))


def symbol_gaps(conn: psycopg.Connection[Any], symbols: Iterable[str], day: Day, settings: DeriveSettings,
                feed: FeedGaps | None = None) -> Changes:
    """Silences of each of ``symbols`` (scope 'symbol'), one statement for all; after :func:`feed_gaps`."""
    feed = feed if feed is not None else read_feed_gaps(conn, day)
    return counted(conn, "gaps_symbol", day.params(
        symbols=sorted_list(symbols), threshold=_threshold("symbol", settings.symbol_gap_seconds),
        feed_lo=feed.starts, feed_hi=feed.ends, now=transaction_time(conn)))


def swing_gaps(conn: psycopg.Connection[Any], day: Day, settings: DeriveSettings) -> Changes:
    """Symbols missing from a swing polling sweep of ``day`` (scope 'swing', every symbol at once)."""
    return counted(conn, "gaps_swing", day.params(
        threshold=_threshold("swing", settings.sweep_gap_seconds), now=transaction_time(conn)))


def refresh_reasons(conn: psycopg.Connection[Any], day: Day, changed: FeedGaps, feed: FeedGaps, *,
                    skip: Iterable[str] = ()) -> Changes:
    """Re-ask the reason of every symbol gap of ``day`` that overlaps a ``changed`` stretch, but
    those of ``skip`` (their gaps are being rebuilt whole)."""
    if not changed.starts or day.open is None:
        return Changes()
    return counted(conn, "gaps_reasons", day.params(
        changed_lo=changed.starts, changed_hi=changed.ends, feed_lo=feed.starts, feed_hi=feed.ends,
        skip=sorted_list(skip), now=transaction_time(conn)))


def find_feed_gaps(conn: psycopg.Connection[Any], day: date, settings: DeriveSettings) -> Changes:
    """:func:`feed_gaps` of a date (a convenience for tests and one-off rebuilds)."""
    return feed_gaps(conn, Day.of(day), settings)


def find_symbol_gaps(conn: psycopg.Connection[Any], symbol: str, day: date, settings: DeriveSettings) -> Changes:
    """:func:`symbol_gaps` of one symbol."""
    return symbol_gaps(conn, [symbol], Day.of(day), settings)


def find_swing_gaps(conn: psycopg.Connection[Any], day: date, settings: DeriveSettings) -> Changes:
    """:func:`swing_gaps` of a date."""
    return swing_gaps(conn, Day.of(day), settings)
