"""Rolling statistics over bars (``analysis_rolling_stats``), computed entirely in PostgreSQL.

For one symbol and one KST date, every bar ends one window of each length: 5, 10, 30, 60 and 240
minutes over the 1-minute bars (``scalp_1m_bars``, origin 'derived'); 10, 30, 60 and 240 over the
10-minute bars (``swing_bars_10m``, origins 'ticks' then 'snapshots'; a 5-minute window is shorter
than one bar, so it is not computed). Windows never reach into another KST date. The SQL (window
functions with RANGE frames over bar_time, exact numeric sums of powers) is in
``sql/stats_rolling.sql``; every formula is in docs/derive-stats.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import psycopg
from psycopg import sql

from obsdb.derive.common import Changes, Day, is_citus, load_sql, transaction_time

#: KRX: trading days per year, and minutes of the regular session (09:00-15:30 KST, 6.5 h)
TRADING_DAYS_PER_YEAR = 252
SESSION_MINUTES = 390


@dataclass(frozen=True)
class BarSource:
    """A bar table statistics are computed over: its bar length, usable origins, window lengths."""

    table: str
    bar_minutes: int
    #: origins read, most trusted first: when one bar_time has several, the first one listed wins
    origins: tuple[str, ...]
    windows: tuple[int, ...]

    @property
    def bars_per_year(self) -> float:
        return TRADING_DAYS_PER_YEAR * SESSION_MINUTES / self.bar_minutes


#: the statement's window slots (sql/stats_rolling.sql): a source fills the first, the rest are NULL
_SLOTS = ("w1", "w2", "w3", "w4", "w5")

#: The only tables statistics read: the table name used in SQL comes from here, never from input.
SOURCES: dict[str, BarSource] = {
    "scalp_1m_bars": BarSource("scalp_1m_bars", 1, ("derived",), (5, 10, 30, 60, 240)),
    "swing_bars_10m": BarSource("swing_bars_10m", 10, ("ticks", "snapshots"), (10, 30, 60, 240)),
}


def rolling_stats_of(conn: psycopg.Connection[Any], since: dict[str, datetime | None], day: Day,
                     source_table: str) -> Changes:
    """Recompute the rolling statistics of the symbols of ``since`` on ``day`` over ``source_table``
    bars, in one statement for all symbols and window lengths at once. A symbol's rows before
    ``since[symbol]`` (its first changed bar; None: the whole day) are left alone: they read only
    earlier bars, which did not change.

    Runs in the caller's transaction (never commits). Writes only rows that are new or whose values
    changed (their ``computed_at`` moves), deletes rows that no longer match a bar (or a window
    length the source computes), and leaves the rest untouched.
    """
    source = SOURCES.get(source_table)
    if source is None:
        raise ValueError(f"no rolling statistics over {source_table!r}; expected one of {sorted(SOURCES)}")
    if not since:
        return Changes()
    symbols = sorted(since)
    slots = dict(zip(_SLOTS, (*source.windows, *(None,) * len(_SLOTS)), strict=False))
    params = day.params(
        symbols=symbols, froms=[since[s] for s in symbols], origins=list(source.origins),
        source_table=source.table, bar_minutes=source.bar_minutes, bars_per_year=source.bars_per_year,
        now=transaction_time(conn), **slots)
    if is_citus(conn):  # write, delete, count: three statements (see sql/stats_rolling_citus.sql)
        written, deleted, computed = (_one(conn, name, source, params) for name in (
            "stats_rolling_citus", "stats_rolling_delete_citus", "stats_rolling_count_citus"))
        return Changes.of(written, deleted, computed)
    row = conn.execute(_query("stats_rolling", source), params).fetchone()
    assert row is not None  # an aggregate-only SELECT always answers one row
    return Changes.of(*row)


def _query(name: str, source: BarSource) -> sql.Composed:
    return sql.SQL(load_sql(name)).format(bars=sql.Identifier(source.table))


def _one(conn: psycopg.Connection[Any], name: str, source: BarSource, params: dict[str, Any]) -> int:
    """The single count a Citus statistics statement answers."""
    row = conn.execute(_query(name, source), params).fetchone()
    assert row is not None  # count(*) always answers one row
    return int(row[0])


def rolling_stats(conn: psycopg.Connection[Any], symbol: str, day: date, source_table: str) -> Changes:
    """:func:`rolling_stats_of` one symbol over its whole day (a convenience for tests and rebuilds)."""
    return rolling_stats_of(conn, {symbol: None}, Day.of(day), source_table)
