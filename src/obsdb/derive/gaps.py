"""Collection gaps derived from the raw rows: feed-wide silences, quiet symbols, missed swing polls.

Definitions are in docs/derive-gaps.md. Everything is computed in SQL (window functions over one
day's rows); each call makes the derived gaps of one day and scope equal to what the data says,
writing only rows that changed, so re-running a day is cheap and keeps ``computed_at`` of the rest.
Archived gaps (the collector's own ledger) are never touched. Call order within a day matters:
feed gaps first, because a symbol gap's reason asks whether a feed gap overlaps it.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any, LiteralString

import psycopg

from obsdb.derive.common import Changes, DeriveSettings, load_sql, session_bounds
from obsdb.krx import KST


def find_feed_gaps(conn: psycopg.Connection[Any], day: date, settings: DeriveSettings) -> Changes:
    """Silences of the whole feed (symbol NULL, scope 'feed') in the session of ``day``."""
    return _sync(conn, "feed", load_sql("gaps_feed"), day, None, settings.feed_gap_seconds)


def find_symbol_gaps(conn: psycopg.Connection[Any], symbol: str, day: date, settings: DeriveSettings) -> Changes:
    """Silences of one symbol (scope 'symbol'); run after :func:`find_feed_gaps` for the same day."""
    return _sync(conn, "symbol", load_sql("gaps_symbol"), day, symbol, settings.symbol_gap_seconds)


def find_swing_gaps(conn: psycopg.Connection[Any], day: date, settings: DeriveSettings) -> Changes:
    """Symbols missing from a swing polling sweep of ``day`` (scope 'swing', every symbol at once)."""
    return _sync(conn, "swing", load_sql("gaps_swing"), day, None, settings.sweep_gap_seconds)


def _sync(conn: psycopg.Connection[Any], scope: str, want_sql: LiteralString, day: date,
          symbol: str | None, threshold: float) -> Changes:
    """Run ``want_sql`` (ending in the CTE ``want``) followed by the shared upsert/delete statement.

    One statement per call: the wanted gaps are computed, compared and written in a single round
    trip. A non-trading day passes a NULL session, so nothing is wanted and stale rows go.
    """
    if not threshold > 0:
        raise ValueError(f"{scope} gap threshold must be positive, got {threshold!r}")
    bounds = session_bounds(day)
    day_lo = datetime.combine(day, time(0), KST)
    params = {
        "open": bounds[0] if bounds else None, "close": bounds[1] if bounds else None,
        "day_lo": day_lo, "day_hi": day_lo + timedelta(days=1),
        "scope": scope, "symbol": symbol, "threshold": threshold,
    }
    row = conn.execute(want_sql + load_sql("gaps_sync"), params).fetchone()
    assert row is not None  # an aggregate-only SELECT always returns one row
    written, deleted, wanted = (int(v) for v in row)
    return Changes(written=written, deleted=deleted, unchanged=wanted - written)
