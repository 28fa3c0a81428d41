"""True 1-minute and 10-minute bars, derived from ticks and snapshots, and their reconciliation
with the archived bars. Definitions: docs/derive-bars.md. The 1-minute buckets are summed
client-side (``derive.minutes``; on Citus in SQL, ``sql/bars_1m_citus.sql``), the rest in SQL.

Each build recomputes one KST day for a set of symbols in a single statement (set-based: one
statement per day, not per symbol) that writes only the bars whose values changed and deletes the
ones that vanished, so a re-run is cheap and keeps ``computed_at`` meaningful. A bar's coverage is
the only part that depends on other symbols (through the feed gaps, which are read once per day and
passed in as arrays); :func:`refresh_coverage` updates just that where the feed gaps changed.
Nothing here commits: the caller owns the transaction (one per day in ``derive.run``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import psycopg

from obsdb.derive.common import (
    Changes,
    Day,
    is_citus,
    load_sql,
    per_symbol,
    sorted_list,
    split_per_symbol,
    transaction_time,
)
from obsdb.derive.gaps import FeedGaps, read_feed_gaps


@dataclass(frozen=True)
class BarDiff:
    """One disagreement between an archived and a derived 1-minute bar.

    ``field`` is open/high/low/close/volume, or ``missing_derived`` / ``missing_archived`` (then both
    values are None).
    """

    symbol: str
    bar_time: datetime
    field: str
    archived: int | None
    derived: int | None


@dataclass
class Built:
    """What a bar step did, and where each symbol's bars first changed (statistics start there)."""

    changes: Changes
    first_changed: dict[str, datetime]


def _build(conn: psycopg.Connection[Any], name: str, symbols: Iterable[str], day: Day,
           feed: FeedGaps | None) -> Built:
    feed = (feed if feed is not None else read_feed_gaps(conn, day)).merged()
    params = day.params(symbols=sorted_list(symbols), feed_lo=feed.starts, feed_hi=feed.ends,
                        now=transaction_time(conn))
    if is_citus(conn):  # Citus refuses the one-statement form (see sql/<name>_citus.sql)
        changes, first = split_per_symbol(conn, name, params)
    elif name == "bars_1m":
        # one transaction block whatever the connection's mode: the staged buckets go at commit
        with conn.transaction():
            from obsdb.derive import minutes  # here: numpy's import is paid only when bars are made
            minutes.stage(conn, params, day)
            changes, first = per_symbol(conn, load_sql(name), params)
    else:
        changes, first = per_symbol(conn, load_sql(name), params)
    return Built(changes, first)


def minute_bars(conn: psycopg.Connection[Any], symbols: Iterable[str], day: Day,
                feed: FeedGaps | None = None) -> Built:
    """Recompute the derived 1-minute bars of ``symbols`` on ``day`` from their ticks.

    Coverage comes from the day's derived feed gaps (``feed``, else read here), so feed gaps must be
    computed first. Archived bars are never touched.
    """
    return _build(conn, "bars_1m", symbols, day, feed)


def ten_minute_bars(conn: psycopg.Connection[Any], symbols: Iterable[str], day: Day,
                    feed: FeedGaps | None = None) -> Built:
    """Recompute the 10-minute bars of ``symbols`` on ``day``: from a symbol's derived 1-minute bars
    when it has any (origin ``ticks``), else reconstructed from its swing snapshots (``snapshots``).

    Reads scalp_1m_bars, so run it after :func:`minute_bars` for the same day.
    """
    return _build(conn, "bars_10m", symbols, day, feed)


def refresh_coverage(conn: psycopg.Connection[Any], day: Day, changed: FeedGaps, feed: FeedGaps, *,
                     skip_1m: Iterable[str] = (), skip_10m: Iterable[str] = ()) -> tuple[Changes, Changes, set[str]]:
    """Where the union of the day's feed gaps changed (``changed``), refresh the coverage of every
    symbol's derived bars (1-minute, and 10-minute of origin ``ticks``) to what ``feed`` says; the
    symbols in ``skip_*`` are left out (their bars are being rebuilt whole).

    Answers the 1-minute and 10-minute changes and the symbols whose bars were rewritten.
    """
    one, ten, touched = Changes(), Changes(), set[str]()
    if not changed.starts:
        return one, ten, touched
    feed = feed.merged()
    params = day.params(changed_lo=changed.starts, changed_hi=changed.ends, feed_lo=feed.starts,
                        feed_hi=feed.ends, skip_1m=sorted_list(skip_1m), skip_10m=sorted_list(skip_10m),
                        now=transaction_time(conn))
    for symbol, w1, c1, w10, c10 in conn.execute(load_sql("bars_coverage"), params).fetchall():
        one += Changes.of(w1 or 0, 0, c1 or 0)
        ten += Changes.of(w10 or 0, 0, c10 or 0)
        if w1 or w10:
            touched.add(symbol)
    return one, ten, touched


def build_minute_bars(conn: psycopg.Connection[Any], symbol: str, day: date) -> Changes:
    """:func:`minute_bars` of one symbol (a convenience for tests and one-off rebuilds)."""
    return minute_bars(conn, [symbol], Day.of(day)).changes


def build_ten_minute_bars(conn: psycopg.Connection[Any], symbol: str, day: date) -> Changes:
    """:func:`ten_minute_bars` of one symbol."""
    return ten_minute_bars(conn, [symbol], Day.of(day)).changes


def reconcile(conn: psycopg.Connection[Any], *, start: date | None = None, end: date | None = None,
              symbol: str | None = None) -> list[BarDiff]:
    """Where archived 1-minute bars and derived ones disagree, KST dates ``start``..``end`` inclusive.

    Missing bars are reported only on (symbol, date)s that have both kinds: an archive that covers
    other days than the ticks is not a disagreement.
    """
    params = {"symbol": symbol,
              "lo": Day.of(start).lo if start else None,
              "hi": Day.of(end).hi if end else None}
    rows = conn.execute(load_sql("bars_reconcile"), params).fetchall()
    return [BarDiff(symbol=r[0], bar_time=r[1], field=r[2], archived=r[3], derived=r[4]) for r in rows]
