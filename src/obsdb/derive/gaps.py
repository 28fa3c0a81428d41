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

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
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


def feed_anchor(conn: psycopg.Connection[Any], day: Day, settings: DeriveSettings,
                since: datetime | None) -> datetime | None:
    """Where the feed gaps of ``day`` must be recomputed from when every new tick lies at or after
    ``since`` (gaps_feed_anchor.sql says why it is exact); None: the whole day."""
    if since is None or day.open is None or day.close is None:
        return None
    f = min(since, day.close)
    f_lo = f - timedelta(seconds=_threshold("feed", settings.feed_gap_seconds))
    if f_lo <= day.open:
        return None
    row = conn.execute(load_sql("gaps_feed_anchor"), {"open": day.open, "f": f, "f_lo": f_lo}).fetchone()
    start: datetime | None = row[0] if row else None
    return start if start is not None and start > day.open else None


def feed_gaps(conn: psycopg.Connection[Any], day: Day, settings: DeriveSettings,
              start: datetime | None = None) -> Changes:
    """Silences of the whole feed (symbol '*', scope 'feed') in the session of ``day``; with
    ``start`` (:func:`feed_anchor`), only those from it on."""
    return counted(conn, "gaps_feed", day.params(
        threshold=_threshold("feed", settings.feed_gap_seconds), now=transaction_time(conn), start=start))


def symbol_anchors(conn: psycopg.Connection[Any], day: Day, settings: DeriveSettings,
                   since: Mapping[str, datetime | None]) -> dict[str, datetime]:
    """:func:`feed_anchor` per symbol, for the symbols whose gaps need not be rebuilt whole (those
    left out are). ``since``: where each symbol's day changed, None for anywhere."""
    if day.open is None or day.close is None:
        return {}
    limit = timedelta(seconds=_threshold("symbol", settings.symbol_gap_seconds))
    ends = {s: min(t, day.close) for s, t in since.items() if t is not None}
    ends = {s: f for s, f in sorted(ends.items()) if f - limit > day.open}
    if not ends:
        return {}
    rows = conn.execute(load_sql("gaps_symbol_anchor"), {
        "symbols": list(ends), "f": list(ends.values()), "f_lo": [f - limit for f in ends.values()],
        "open": day.open, "close": day.close}).fetchall()
    return {s: start for s, start in rows if start is not None and start > day.open}


def symbol_gaps(conn: psycopg.Connection[Any], symbols: Iterable[str], day: Day, settings: DeriveSettings,
                feed: FeedGaps | None = None, anchors: Mapping[str, datetime] | None = None) -> Changes:
    """Silences of each of ``symbols`` (scope 'symbol'), after :func:`feed_gaps`: one statement for
    those rebuilt whole, one for those recomputed from their ``anchors`` (:func:`symbol_anchors`)."""
    feed = feed if feed is not None else read_feed_gaps(conn, day)
    anchors = anchors or {}
    params = day.params(threshold=_threshold("symbol", settings.symbol_gap_seconds),
                        feed_lo=feed.starts, feed_hi=feed.ends, now=transaction_time(conn))
    whole, total = sorted_list(s for s in symbols if s not in anchors), Changes()
    if whole:
        total += counted(conn, "gaps_symbol", {**params, "symbols": whole})
    if anchors:
        part = sorted(anchors.items())
        total += counted(conn, "gaps_symbol_since", {
            **params, "symbols": [s for s, _ in part], "starts": [t for _, t in part]})
    return total


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
