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
    from obsdb.derive import stats_copy  # here: numpy's import is paid only where statistics are made

    # one transaction block whatever the connection's mode (a savepoint inside the caller's): the
    # staged rows go at commit, so an autocommitted COPY would leave the write nothing to read
    with conn.transaction():
        sums = _window_sums(conn, source, params, since)
        if sums and not is_citus(conn) and stats_copy.is_fresh(conn, params):
            copied = stats_copy.write(conn, sums, params)
            if copied is not None:
                return Changes.of(copied, 0, copied)
        computed = _stage(conn, sums)
        if is_citus(conn):  # Citus: the upsert, then the delete (see sql/stats_rolling_citus.sql)
            written = conn.execute(_query("stats_rolling_citus", source), params).rowcount
            deleted = _one(conn, "stats_rolling_delete_citus", source, params)
            return Changes.of(written, deleted, computed)
        row = conn.execute(_query("stats_rolling", source), params).fetchone()
    assert row is not None  # an aggregate-only SELECT always answers one row
    return Changes.of(row[0], row[1], computed)


def _window_sums(conn: psycopg.Connection[Any], source: BarSource, params: dict[str, Any],
                 since: dict[str, datetime | None]) -> dict[str, Any]:
    """Read the day's bars and sum the windows of the scope (derive/windows.py's columns; {}: none)."""
    import numpy as np  # here: numpy's import (0.1-0.2 s) is paid only by a derive with statistics to make

    from obsdb.derive import pgbinary
    from obsdb.derive.windows import DayBars, window_rows
    with conn.cursor(binary=True) as cur:  # binary: the arrays as the server sends them, read by numpy
        pgbinary.raw_arrays(cur)
        row = cur.execute(_query("stats_bars", source), params).fetchone()
        assert row is not None  # an aggregate-only SELECT always answers one row
        arrays = {name: pgbinary.read_array(raw, pg_type) for (name, pg_type), raw in zip(_BARS, row, strict=True)}
    del row  # the raw arrays: freed before the window sums
    bars = DayBars.of(arrays, pgbinary.micros(params["lo"]))
    froms = np.array([_NO_SINCE if (t := since[s]) is None else pgbinary.micros(t) for s in params["symbols"]],
                     dtype=np.int64)
    scope = bars.times >= froms[bars.symbol - 1] if bars.symbol.size else np.empty(0, np.bool_)
    return window_rows(bars, scope, source.windows, source.bar_minutes, source.bars_per_year)


def _stage(conn: psycopg.Connection[Any], sums: dict[str, Any]) -> int:
    """The window sums into ``obsdb_stats_in`` (and its view made); answers its rows."""
    from obsdb.derive import pgbinary
    from obsdb.derive.windows import SUMS
    with conn.cursor(binary=True) as cur:
        for name in ("stats_in_create", "stats_in_view", "stats_in_empty"):
            cur.execute(load_sql(name))
        if not sums:
            return 0
        columns = dict(sums)
        digits = {name: pgbinary.numeric_digits(columns[name]) for name in SUMS}
        for name in SUMS:
            columns[name] = pgbinary.numerics(columns[name], digits[name])
        layout = pgbinary.row_type([(name, pgbinary.numeric_type(digits[name]) if name in digits else pg_type)
                                    for name, pg_type in _STAGED])
        with cur.copy(load_sql("stats_in_copy")) as copy:
            pgbinary.write_rows(copy.write, columns, layout)
    return int(columns["s"].size)


#: sql/stats_bars.sql's arrays
_BARS = (("s", "int4"), ("t", "timestamptz"), ("high", "int8"), ("low", "int8"), ("close", "int8"),
         ("volume", "int8"))
#: the columns of sql/stats_in_create.sql, in order ("numeric": laid out by its digits)
_STAGED = (("s", "int4"), ("window_minutes", "int4"), ("bar_time", "timestamptz"), ("bar_count", "int4"),
           ("coverage", "float8"), ("sx", "numeric"), ("q_x", "numeric"), ("s_tr", "numeric"), ("n_v", "int8"),
           ("sv", "numeric"), ("q_v", "numeric"), ("pv3", "numeric"), ("price_min", "int8"), ("price_max", "int8"),
           ("n_r", "int4"), ("spread", "bool"), ("logret_mean", "float8"), ("logret_stddev", "float8"),
           ("logret_skew", "float8"), ("logret_kurtosis", "float8"), ("annualized_vol", "float8"))
_NO_SINCE = -(2**63)  # a symbol without a since: its whole day is in the scope


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
