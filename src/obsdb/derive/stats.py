"""Rolling statistics over bars (``analysis_rolling_stats``).

For one symbol and one KST date, every bar ends one window of each length: 5, 10, 30, 60 and 240
minutes over the 1-minute bars (``scalp_1m_bars``, origin 'derived'); 10, 30, 60 and 240 over the
10-minute bars (``swing_bars_10m``, origins 'ticks' then 'snapshots'; a 5-minute window is shorter
than one bar, so it is not computed). Windows never reach into another KST date. The day's bars
are read once (``sql/stats_bars.sql``), every window is summed client-side (``derive.windows``:
exact integer sums, float64 two-pass moments), the sums are copied into a temporary table and
written from there (``sql/stats_rolling.sql``), PostgreSQL making the numeric columns. Every formula
is in docs/derive-stats.md.
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
    bars, all symbols and window lengths at once. A symbol's rows before ``since[symbol]`` (its
    first changed bar; None: the whole day) are left alone: they read only earlier bars, which did
    not change.

    Runs in the caller's transaction (never commits it; on an autocommit connection outside one, in
    its own). Writes only rows that are new or whose values
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
    params = day.params(symbols=symbols, froms=[since[s] for s in symbols], origins=list(source.origins),
                        source_table=source.table, now=transaction_time(conn), **slots)
    # one transaction block whatever the connection's mode (a savepoint inside the caller's): the
    # staged rows go at commit, so an autocommitted COPY would leave the write nothing to read
    with conn.transaction():
        computed = _stage(conn, source, params, since)
        if is_citus(conn):  # Citus: the upsert, then the delete (see sql/stats_rolling_citus.sql)
            written = conn.execute(_query("stats_rolling_citus", source), params).rowcount
            deleted = _one(conn, "stats_rolling_delete_citus", source, params)
            return Changes.of(written, deleted, computed)
        row = conn.execute(_query("stats_rolling", source), params).fetchone()
    assert row is not None  # an aggregate-only SELECT always answers one row
    return Changes.of(row[0], row[1], computed)


def _stage(conn: psycopg.Connection[Any], source: BarSource, params: dict[str, Any],
           since: dict[str, datetime | None]) -> int:
    """Read the day's bars, sum the windows of the scope into ``obsdb_stats_in``; answers its rows."""
    import numpy as np  # here: numpy's import (0.1-0.2 s) is paid only by a derive with statistics to make

    from obsdb.derive.windows import DayBars, window_rows
    with conn.cursor(binary=True) as cur:  # binary: no timestamp or integer parsing from text
        bars = DayBars.of(cur.execute(_query("stats_bars", source), params).fetchall())
    scope = np.array([(t := since[s]) is None or bar_time >= t for s, bar_time in zip(bars.symbols, bars.times,
                                                                                      strict=True)], dtype=np.bool_)
    rows = window_rows(bars, scope, source.windows, source.bar_minutes, source.bars_per_year)
    for name in ("stats_in_create", "stats_in_view", "stats_in_empty"):
        conn.execute(load_sql(name))
    with conn.cursor().copy(load_sql("stats_in_copy")) as copy:
        copy.set_types(_STAGED_TYPES)
        for row in rows:
            copy.write_row(row)
    return len(rows)


#: the columns of sql/stats_in_create.sql, for the binary COPY
_STAGED_TYPES = ["text", "int4", "timestamptz", "int4", "float8", "numeric", "numeric", "numeric", "int8",
                 "numeric", "numeric", "numeric", "int8", "int8", "float8", "float8", "float8", "float8", "float8"]


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
